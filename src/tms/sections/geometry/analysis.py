"""§4 uniform superposition (PAPER.md §4): per model D*, Σ D_i and its tegum factors; per feature its group,
polytope and nearest fraction; per density how often each polytope occurs.

Tables (after :func:`~.models.analyze_models`, whose features.csv holds every feature's D_i and norm):

- ``geometry_models.csv``: one row per model: 1/(1 − S), D*, Σ_i D_i, how many features are represented, sit in
  a named polytope, or within :data:`NEAR` of one of the paper's fractions;
- ``geometry_features.csv``: one row per represented feature: its D_i, the nearest fraction, its group (tegum
  factor) and the group's polytope;
- ``geometry_groups.csv``: one row per group: size, dimensions spanned, polytope, its members' D_i against d/k;
- ``polytopes.csv``: one row per density: represented features of each polytope over all models of it;
- ``dimensionality.scatter.json``: every represented feature of each density's lowest-loss model, for the
  report's hover view (feature, D_i, group, polytope).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch

from tms import geometry
from tms.files import atomic_write_json
from tms.tables import Column, Schema
from tms.text import plural
from tms.analysis.folder import ExperimentFolder
from tms.analysis.models import FEATURES, MODELS

#: A represented feature's D_i counts as sitting on a fraction when within this of it (the lines of the paper's
#: scatter; the fractions nearest each other, 2/5 and 3/8, are 0.025 apart).
NEAR = 0.02
#: A group is uniform when every member's D_i is within this of d/k.
UNIFORM_TOL = 0.05

MODEL_TABLE = Schema("geometry_models.csv", (
    Column("run", "str"), Column("instance", "int"), Column("setting", "int"), Column("restart", "int"),
    Column("density", "float"), Column("inverse_density", "float", "1 / (1 − S) = 1 / p"),
    Column("loss", "float"), Column("best", "bool"),
    Column("dims_per_feature", "float", "D* = m / ‖W‖_F²"),
    Column("sum_dimensionality", "float", "Σ_i D_i (= m for a tight frame: features packed efficiently)"),
    Column("n_represented", "int"),
    Column("n_near_fraction", "int", f"represented with D_i within {NEAR} of a fraction"),
    Column("n_groups", "int"), Column("n_in_polytopes", "int", "represented features in a named polytope group"),
    Column("n_uniform", "int", f"represented features in a named polytope whose D_i is within {UNIFORM_TOL} of d/k"),
))
FEATURE_TABLE = Schema("geometry_features.csv", (
    Column("run", "str"), Column("instance", "int"), Column("feature", "int"), Column("density", "float"),
    Column("dimensionality", "float"), Column("nearest_fraction", "str"), Column("distance", "float"),
    Column("group", "int", "the feature's tegum factor, numbered within the model"),
    Column("group_size", "int"), Column("group_dim", "int"), Column("polytope", "str"),
))
GROUP_TABLE = Schema("geometry_groups.csv", (
    Column("run", "str"), Column("instance", "int"), Column("setting", "int"), Column("density", "float"),
    Column("group", "int"), Column("size", "int"), Column("dim", "int"), Column("polytope", "str"),
    Column("uniform_dimensionality", "float", "d / k"), Column("mean_dimensionality", "float"),
    Column("max_deviation", "float", "max over members of |D_i − d/k|"),
))
POLYTOPE_COUNTS = Schema("polytopes.csv", (
    Column("setting", "int"), Column("density", "float"), Column("inverse_density", "float"),
    Column("models", "int"), Column("represented", "int"),
    *(Column(name.replace(" ", "_"), "int", f"represented features in a {name} group")
      for name in geometry.POLYTOPE_ORDER),
))
SCATTER_FILE = "dimensionality.scatter.json"


def analyze_geometry(exp: ExperimentFolder, run: str = "") -> None:
    """Write the four tables and the scatter for the uniform-superposition run ``run``."""
    r = exp.run(run)
    cfg = r.config
    models = {m["instance"]: m for m in exp.rows(MODELS, run=run)}
    feats: dict[int, list[Any]] = {}
    for f in exp.rows(FEATURES, run=run):
        feats.setdefault(f["instance"], []).append(f)
    model_rows, feature_rows, group_rows = [], [], []
    counts: dict[int, Counter] = {}
    for i, model in sorted(models.items()):
        m_row, f_rows, g_rows = _model_geometry(run, i, model, sorted(feats[i], key=lambda f: f["feature"]), r.W[i])
        model_rows.append(m_row)
        feature_rows += f_rows
        group_rows += g_rows
        for g in g_rows:
            counts.setdefault(model["setting"], Counter())[g["polytope"]] += g["size"]
    exp.write(MODEL_TABLE, model_rows)
    exp.write(FEATURE_TABLE, feature_rows)
    exp.write(GROUP_TABLE, group_rows)
    per_setting = Counter(m["setting"] for m in models.values())
    exp.write(POLYTOPE_COUNTS, [{
        "setting": s, "density": cfg.density[s][0], "inverse_density": 1.0 / cfg.density[s][0],
        "models": per_setting[s], "represented": sum(counts.get(s, Counter()).values()),
        **{name.replace(" ", "_"): counts.get(s, Counter())[name] for name in geometry.POLYTOPE_ORDER},
    } for s in range(cfg.n_settings)])
    _write_scatter(exp, model_rows, feature_rows)


def _model_geometry(run: str, i: int, model: Any, rows: list[Any], W: torch.Tensor
                    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """One model's rows of the model, feature and group tables: its groups (polytopes), each represented
    feature's nearest fraction, and how many features sit in uniform polytopes."""
    represented = [f["represented"] for f in rows]
    found = geometry.groups(W, torch.tensor(represented))
    group_of = {f: k for k, g in enumerate(found) for f in g.features}
    D = {f["feature"]: f["dimensionality"] for f in rows}
    uniform = in_polytopes = 0
    group_rows = []
    for k, g in enumerate(found):
        dev = max(abs(D[f] - g.uniform_dimensionality) for f in g.features)
        named = g.name != "other"
        in_polytopes += g.size if named else 0
        uniform += g.size if named and dev <= UNIFORM_TOL else 0
        group_rows.append({"run": run, "instance": i, "setting": model["setting"], "density": model["density"],
                           "group": k, "size": g.size, "dim": g.dim, "polytope": g.name,
                           "uniform_dimensionality": g.uniform_dimensionality,
                           "mean_dimensionality": sum(D[f] for f in g.features) / g.size, "max_deviation": dev})
    near = 0
    feature_rows = []
    for f in rows:
        if not f["represented"]:
            continue
        frac = geometry.nearest_fraction(f["dimensionality"])
        distance = abs(f["dimensionality"] - float(frac))
        near += distance <= NEAR
        g = found[group_of[f["feature"]]]
        feature_rows.append({"run": run, "instance": i, "feature": f["feature"], "density": model["density"],
                             "dimensionality": f["dimensionality"], "nearest_fraction": geometry.fraction_label(frac),
                             "distance": distance, "group": group_of[f["feature"]], "group_size": g.size,
                             "group_dim": g.dim, "polytope": g.name})
    model_row = {
        "run": run, "instance": i, "setting": model["setting"], "restart": model["restart"],
        "density": model["density"], "inverse_density": 1.0 / model["density"], "loss": model["loss"],
        "best": model["best"], "dims_per_feature": model["dims_per_feature"],
        "sum_dimensionality": sum(D.values()), "n_represented": sum(represented), "n_near_fraction": near,
        "n_groups": len(found), "n_in_polytopes": in_polytopes, "n_uniform": uniform,
    }
    return model_row, feature_rows, group_rows


def _write_scatter(exp: ExperimentFolder, model_rows: list[dict[str, Any]], feature_rows: list[dict[str, Any]]) -> None:
    """The report's hover view of D_i against 1 / (1 − S), one point per represented feature of the best models."""
    best = {m["instance"] for m in model_rows if m["best"]}
    points = [[round(1.0 / f["density"], 5), round(f["dimensionality"], 4), f["polytope"],
               f"feature {f['feature']} of model {f['instance']}: D_i = {f['dimensionality']:.3f} (nearest "
               f"{f['nearest_fraction']}), " + _group_text(f)]
              for f in feature_rows if f["instance"] in best]
    atomic_write_json(exp.tables_dir / SCATTER_FILE, {
        "title": "Feature dimensionality D_i of every represented feature (lowest-loss model per density)",
        "x_label": "1 / (1 − S)", "y_label": "D_i", "x_log": True, "y_range": [0, 1.05],
        "lines": [{"y": float(f), "label": geometry.fraction_label(f)} for f in geometry.FRACTIONS],
        "series": list(geometry.POLYTOPE_ORDER), "points": points,
    })


def _group_text(f: dict[str, Any]) -> str:
    if f["group_size"] == 1:
        return f"alone: no |W_i·W_j| > {geometry.INTERFERENCE:g} with another feature"
    return (f"group {f['group']}: {f['polytope']}, {plural(f['group_size'], 'feature')} in "
            f"{plural(f['group_dim'], 'dimension')}")
