"""§6 superposition and adversarial vulnerability (PAPER.md §6, experiment ``adversarial``): the analytic attack
(:mod:`tms.attack`) on every model of the uniform geometry experiment (n = 400, m = 30), no new training.

For each model: a fixed sample of :data:`SAMPLES` inputs at its density (its own random stream, seeded from the
run's seed and the instance), the loss with and without the worst per-feature perturbation, and the
**vulnerability** (L′ − L) / (L′₀ − L₀): the loss increase relative to that of a model without superposition
(W = [I_m | 0], b = 0) under an attack of the same norm, which is λ² / n exactly
(:func:`tms.attack.orthogonal_increase`). Beside it, features per dimension 1/D* = ‖W‖_F² / m.

Tables: ``adversarial_models.csv`` (every model) and ``adversarial_points.csv`` (per density: the mean over its
models).
"""

from __future__ import annotations

import torch

from tms.attack import SCALE, attack, orthogonal_increase
from tms.data import get_distribution
from tms.tables import Column, Schema
from tms.analysis.folder import ExperimentFolder

SOURCE = "geometry"
"""The experiment whose runs are attacked (its folder beside this one's in the results folder)."""
SAMPLES = 1024
"""Inputs per model (drawn once; every attack of a model sees the same inputs)."""
SEED = 6
"""Offset of the attack sample's random stream from the run's seed."""

MODELS = Schema("adversarial_models.csv", (
    Column("instance", "int"), Column("setting", "int"), Column("restart", "int"),
    Column("density", "float"), Column("inverse_density", "float", "1 / (1 − S)"),
    Column("best", "bool", "the lowest-loss model of its density"),
    Column("clean_loss", "float", "loss on the attack sample"), Column("attacked_loss", "float"),
    Column("feature", "int", "the feature whose attack raised the loss most"),
    Column("lam", "float", f"attack norm λ = {SCALE:g} × the mean input norm"),
    Column("reference_increase", "float", "λ² / n: the increase of a model without superposition"),
    Column("vulnerability", "float", "(L′ − L) / (λ² / n)"),
    Column("features_per_dim", "float", "1/D* = ‖W‖_F² / m"),
))
POINTS = Schema("adversarial_points.csv", (
    Column("setting", "int"), Column("density", "float"), Column("inverse_density", "float"),
    Column("models", "int"), Column("vulnerability", "float", "mean over the density's models"),
    Column("features_per_dim", "float", "mean over the density's models"),
))


def analyze_adversarial(exp: ExperimentFolder, source: str = SOURCE, run: str = "") -> None:
    """Write adversarial_models.csv and adversarial_points.csv from ``<results>/<source>/<run>``."""
    src = ExperimentFolder(exp.path.parent / source)
    r = src.run(run)
    cfg = r.config
    sample = get_distribution(cfg.data).bind(cfg.feature_sets)
    best = set(r.best_instances())
    density = torch.tensor(cfg.instance_density(), dtype=torch.float32)
    importance = torch.tensor(cfg.instance_importance(), dtype=torch.float32)
    rows = []
    for i, inst in enumerate(r.instances):
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + SEED * 7_919 + i)
        x = sample(density[i:i + 1], SAMPLES, g)[0]
        a = attack(r.W[i], r.b[i], x, importance[i], cfg.model)
        ref = orthogonal_increase(a.lam, cfg.n_features)
        p = cfg.density[inst["setting"]][0]
        rows.append({"instance": i, "setting": inst["setting"], "restart": inst["restart"], "density": p,
                     "inverse_density": 1.0 / p, "best": i in best, "clean_loss": a.clean,
                     "attacked_loss": a.attacked, "feature": a.feature, "lam": a.lam, "reference_increase": ref,
                     "vulnerability": a.increase / ref,
                     "features_per_dim": float((r.W[i].double() ** 2).sum()) / cfg.n_hidden})
    exp.write(MODELS, rows)
    points = []
    for s in range(cfg.n_settings):
        mine = [m for m in rows if m["setting"] == s]
        points.append({"setting": s, "density": mine[0]["density"], "inverse_density": mine[0]["inverse_density"],
                       "models": len(mine), "vulnerability": sum(m["vulnerability"] for m in mine) / len(mine),
                       "features_per_dim": sum(m["features_per_dim"] for m in mine) / len(mine)})
    exp.write(POINTS, points)
