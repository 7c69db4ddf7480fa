"""Superposition, memorization and double descent (BEYOND.md DD; Henighan et al. 2023): the tables.

Every run trains its instances on a finite set of T unit-length examples (full batch). For each model:

- the training loss on its T points (recomputed from the run's training set, :func:`tms.train.finite_data`) and
  the test loss on :data:`TEST_SAMPLES` fresh draws (:func:`fresh_loss`);
- the data-point dimensionality D_t of its T training points' hidden vectors h_t = W x_t
  (:func:`tms.metrics.data_dimensionality`) and the feature dimensionality D_i of its features
  (:func:`tms.metrics.feature_dimensionality`);
- whether the large hidden vectors of the points, and the large feature vectors, form a regular polygon
  (:func:`polygon`: k ≥ 3 vectors with norms within :data:`POLYGON_TOL` of their mean and every gap between
  neighbouring directions within :data:`POLYGON_TOL` of 360°/k).

Tables: ``dd_models.csv`` (one row per model), ``dd_dims.csv`` (every training point's D_t and every feature's D_i
above :data:`DIMS_ABOVE`, for the figure of the dimensionalities against T).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from tms.analysis.folder import ExperimentFolder
from tms.metrics import data_dimensionality, feature_dimensionality, hidden_points
from tms.model import get_family
from tms.tables import Column, Schema
from tms.data import run_sampler
from tms.train import finite_data

LARGE = 0.7
"""A vector (a point's h_t or a feature's W_i) is large when its norm is at least this share of the largest."""
POLYGON_TOL = 0.4
"""A regular polygon: norms within this share of their mean, gaps within this share of 360°/k."""
TEST_SAMPLES = 4096
"""Fresh draws for each model's test loss, drawn by the analysis from :data:`TEST_SEED` + the run's seed (the
trainer's own final loss uses batches of T, which at T = 3 would need thousands of tiny batches)."""
TEST_SEED = 987_654
DIMS_ABOVE = 1e-3
"""dd_dims.csv keeps the dimensionalities above this (the other features are ≈ 0 and would fill the table)."""


def polygon(vectors: Tensor) -> tuple[int, bool, float]:
    """``(k, regular, worst)`` for 2-D vectors ``[count, 2]``: k the number of large ones (:data:`LARGE`), whether
    they form a regular k-gon (k ≥ 3), and the worst relative deviation of a norm from the mean or of a gap from
    360°/k."""
    norms = torch.linalg.vector_norm(vectors.double(), dim=1)
    if norms.numel() == 0 or norms.max() <= 0:
        return 0, False, float("inf")
    big = vectors[norms >= LARGE * norms.max()].double()
    k = big.shape[0]
    if k < 3:
        return k, False, float("inf")
    r = torch.linalg.vector_norm(big, dim=1)
    angles = torch.rad2deg(torch.atan2(big[:, 1], big[:, 0])).remainder(360.0).sort().values
    gaps = torch.cat([angles.diff(), angles[:1] + 360.0 - angles[-1:]])
    worst = max(float(((r - r.mean()).abs() / r.mean()).max()), float(((gaps - 360.0 / k).abs() / (360.0 / k)).max()))
    return k, worst <= POLYGON_TOL, worst


MODEL_TABLE = Schema("dd_models.csv", (
    Column("run", "str"), Column("train_size", "int", "T"), Column("instance", "int"),
    Column("train_loss", "float", "mean over features and the T training points"),
    Column("test_loss", "float", f"on {TEST_SAMPLES} fresh draws"),
    Column("data_dim_max", "float", "largest D_t of the training points"),
    Column("data_dim_mean", "float", "mean D_t over the training points"),
    Column("feature_dim_max", "float", "largest D_i of the features"),
    Column("points_k", "int", "training points with a large hidden vector"),
    Column("points_polygon", "bool", "they form a regular polygon"),
    Column("points_worst", "float", "largest relative deviation of a norm or gap"),
    Column("features_k", "int", "features with a large vector"),
    Column("features_polygon", "bool"), Column("features_worst", "float"),
))
DIMS_TABLE = Schema("dd_dims.csv", (
    Column("train_size", "int"), Column("instance", "int"), Column("kind", "str", "'point' or 'feature'"),
    Column("index", "int"), Column("dimensionality", "float"), Column("norm", "float"),
))

POINTS_TABLE = Schema("dd_points.csv", (
    Column("train_size", "int"), Column("instance", "int"), Column("index", "int", "training point t"),
    Column("h0", "float", "first coordinate of its hidden vector h_t = W x_t"), Column("h1", "float"),
), doc="the hidden vectors of model 0's training points at every T (2-D models only), as the vectors figure draws")
POINTS_INSTANCE = 0
"""The model whose points the figure draws (and so the table holds)."""


def fresh_loss(cfg: Any, params: dict[str, Tensor], samples: int = TEST_SAMPLES) -> Tensor:
    """Each model's loss ``[inst]`` on ``samples`` fresh draws of the run's distribution (unit length when the run
    normalises), the same draws for every run of one seed."""
    g = torch.Generator().manual_seed(TEST_SEED + cfg.seed)
    density = torch.tensor(cfg.instance_density(), dtype=torch.float32)
    x, _ = run_sampler(cfg)(density, samples, g)
    return get_family(cfg.model).loss(params, x, torch.tensor(cfg.instance_importance(), dtype=torch.float32))


def _point_rows(train_size: int, h: Tensor) -> list[dict[str, Any]]:
    """:data:`POINTS_TABLE` rows of model :data:`POINTS_INSTANCE` from ``h [inst, T, 2]``."""
    return [{"train_size": train_size, "instance": POINTS_INSTANCE, "index": t, "h0": float(v[0]), "h1": float(v[1])}
            for t, v in enumerate(h[POINTS_INSTANCE].tolist())]


def _run_rows(run: str, cfg: Any, params: dict[str, Tensor]) -> tuple[list[dict[str, Any]], ...]:
    x = finite_data(cfg)[0]  # [inst, T, feat], unit length
    W = params["W"]
    family = get_family(cfg.model)
    importance = torch.tensor(cfg.instance_importance(), dtype=torch.float32)
    train_loss = family.loss(params, x, importance)
    tests = fresh_loss(cfg, params)
    h = hidden_points(W, x)  # [inst, T, hidden]
    d_points, d_features = data_dimensionality(h), feature_dimensionality(W)
    h_norm, w_norm = torch.linalg.vector_norm(h, dim=2), torch.linalg.vector_norm(W, dim=1)
    models, dims = [], []
    for i in range(cfg.n_instances):
        pk, preg, pworst = polygon(h[i]) if cfg.n_hidden == 2 else (0, False, float("inf"))
        fk, freg, fworst = polygon(W[i].T) if cfg.n_hidden == 2 else (0, False, float("inf"))
        models.append({"run": run, "train_size": cfg.train_size, "instance": i, "train_loss": float(train_loss[i]),
                       "test_loss": float(tests[i]), "data_dim_max": float(d_points[i].max()),
                       "data_dim_mean": float(d_points[i].mean()), "feature_dim_max": float(d_features[i].max()),
                       "points_k": pk, "points_polygon": preg, "points_worst": pworst,
                       "features_k": fk, "features_polygon": freg, "features_worst": fworst})
        for kind, d, norms in (("point", d_points[i], h_norm[i]), ("feature", d_features[i], w_norm[i])):
            dims += [{"train_size": cfg.train_size, "instance": i, "kind": kind, "index": j,
                      "dimensionality": float(d[j]), "norm": float(norms[j])}
                     for j in (d > DIMS_ABOVE).nonzero().flatten().tolist()]
    points = _point_rows(cfg.train_size, h) if cfg.n_hidden == 2 else []
    return models, dims, points


def analyze_dd(exp: ExperimentFolder) -> None:
    """Write :data:`MODEL_TABLE`, :data:`DIMS_TABLE` and :data:`POINTS_TABLE` from every run (one per training-set
    size T)."""
    models: list[dict[str, Any]] = []
    dims: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    for run in exp.run_names():
        r = exp.run(run)
        if r.config.train_size is None:
            continue
        m, d, pts = _run_rows(run, r.config, r.params)
        models += m
        dims += d
        points += pts
    models.sort(key=lambda row: (row["train_size"], row["instance"]))
    dims.sort(key=lambda row: (row["train_size"], row["instance"], row["kind"], row["index"]))
    exp.write(MODEL_TABLE, models)
    exp.write(DIMS_TABLE, dims)
    exp.write(POINTS_TABLE, sorted(points, key=lambda row: (row["train_size"], row["index"])))
