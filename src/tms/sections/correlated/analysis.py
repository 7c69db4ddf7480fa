"""§4 correlated and anticorrelated features (PAPER.md §4, experiment ``correlated``): how the sets of a run sit
relative to each other in the trained W.

For every model of every run, with the run's feature sets (a control run of independent features borrows the
sets of the run it controls, so the same measures can be compared):

- the cosine between every two members of a set (``within``) and between features of different sets
  (``between``), over represented features (‖W_i‖ > REPRESENTED_NORM);
- ``antipodal_within``: the share of member pairs that are antipodal (cos ≤ −ANTIPODAL_COS);
- ``collapsed_sets``: sets whose members all point the same way (every pair cos ≥ COLLAPSE_COS) with every
  member kept (‖W_i‖ ≥ KEPT_NORM): the set represented by its principal component (a + b)/√2 alone;
- ``partner_adjacent`` (m = 2): the share of represented set members whose set partner is one of their two
  angular neighbours ("side by side");

Tables: ``correlated_models.csv`` (one row per model) and ``correlated_points.csv`` (per run and setting: the
lowest-loss model's collapsed sets, and how many restarts reached each count).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from torch import Tensor

from tms.config import RunConfig
from tms.layout import REPRESENTED_NORM
from tms.metrics import cosines
from tms.tables import Column, Schema
from tms.analysis.folder import ExperimentFolder

ANTIPODAL_COS = 0.95
"""Two features are antipodal when cos ≤ −0.95 (about 18° from opposite)."""
COLLAPSE_COS = 0.9
"""A set is collapsed when every two members have cos ≥ 0.9 (within about 25°)."""
KEPT_NORM = 0.2
"""... and every member keeps ‖W_i‖ ≥ 0.2: a collapsed pair has ‖W_i‖ ≈ 1/√2 each, a dropped feature ≈ 0."""

MODELS = Schema("correlated_models.csv", (
    Column("run", "str"), Column("instance", "int"), Column("setting", "int"), Column("restart", "int"),
    Column("density", "float", "the setting's density (every feature shares it)"),
    Column("loss", "float"), Column("best", "bool", "the lowest-loss restart of its setting"),
    Column("sets", "int", "feature sets of the run (or of the run a control borrows them from)"),
    Column("n_represented", "int", f"features with ‖W_i‖ > {REPRESENTED_NORM:g}"),
    Column("frobenius_sq", "float", "‖W‖_F²"),
    Column("within_cos", "float", "mean cos∠(W_i, W_j) over pairs in one set, both represented"),
    Column("within_abs_cos", "float", "mean |cos| over those pairs"),
    Column("between_abs_cos", "float", "mean |cos| over represented pairs from different sets"),
    Column("antipodal_within", "float", f"share of pairs in one set with cos ≤ −{ANTIPODAL_COS:g}"),
    Column("collapsed_sets", "int", f"sets with every pair at cos ≥ {COLLAPSE_COS:g} and every ‖W_i‖ ≥ {KEPT_NORM:g}"),
    Column("partner_adjacent", "float", "m = 2: share of represented set members whose set partner is an angular "
                                        "neighbour (empty for m > 2)"),
))
POINTS = Schema("correlated_points.csv", (
    Column("run", "str"), Column("setting", "int"), Column("density", "float"), Column("restarts", "int"),
    Column("best_collapsed", "int", "collapsed sets of the lowest-loss restart"),
    Column("best_loss", "float"),
    *(Column(f"collapsed_{k}", "int", f"restarts with {k} collapsed sets") for k in range(4)),
    *(Column(f"loss_{k}", "float", f"lowest loss of the restarts with {k} collapsed sets (empty: none)")
      for k in range(4)),
))


def angular_neighbours(W: Tensor, features: list[int]) -> dict[int, tuple[int, int]]:
    """For ``[2, n]`` W: each listed feature's two angular neighbours among the listed ones (itself twice when
    alone)."""
    angle = {i: math.atan2(float(W[1, i]), float(W[0, i])) for i in features}
    order = sorted(features, key=lambda i: angle[i])
    k = len(order)
    return {order[j]: (order[j - 1], order[(j + 1) % k]) for j in range(k)}


def set_measures(W: Tensor, sets: list[tuple[int, ...]]) -> dict[str, Any]:
    """The per-model measures of the module docstring for one ``[m, n]`` W and its sets (feature tuples)."""
    cos, norms = cosines(W.double()), W.double().norm(dim=0)
    rep = [i for i in range(W.shape[1]) if float(norms[i]) > REPRESENTED_NORM]
    member = {f: k for k, fs in enumerate(sets) for f in fs}
    within, between = [], []
    for a in range(len(rep)):
        for b in range(a + 1, len(rep)):
            i, j = rep[a], rep[b]
            same = i in member and member.get(i) == member.get(j)
            (within if same else between).append(float(cos[i, j]))
    collapsed = sum(
        all(float(norms[f]) >= KEPT_NORM for f in fs)
        and all(float(cos[i, j]) >= COLLAPSE_COS for i in fs for j in fs if i < j)
        for fs in sets)
    adjacent = None
    if W.shape[0] == 2:
        in_sets = [i for i in rep if i in member]
        if in_sets:
            neighbours = angular_neighbours(W, rep)
            adjacent = sum(any(member.get(j) == member[i] for j in neighbours[i] if j != i)
                           for i in in_sets) / len(in_sets)
    return {
        "n_represented": len(rep), "frobenius_sq": float((W.double() ** 2).sum()),
        "within_cos": _mean(within), "within_abs_cos": _mean([abs(c) for c in within]),
        "between_abs_cos": _mean([abs(c) for c in between]),
        "antipodal_within": _mean([float(c <= -ANTIPODAL_COS) for c in within]),
        "collapsed_sets": collapsed, "partner_adjacent": adjacent,
    }


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def run_sets(config: RunConfig) -> list[tuple[int, ...]]:
    return [fs.features for fs in config.feature_sets]


def analyze_correlated(exp: ExperimentFolder, controls: Mapping[str, str] | None = None) -> None:
    """Write correlated_models.csv and correlated_points.csv for every run of the experiment; ``controls`` maps
    a run of independent features to the run whose sets it borrows."""
    controls = dict(controls or {})
    models, points = [], []
    for sub in exp.run_names():
        r = exp.run(sub)
        source = controls.get(sub)
        sets = run_sets(exp.config(source) if source is not None and exp.has_run(source) else r.config)
        best = set(r.best_instances())
        rows = []
        for i, inst in enumerate(r.instances):
            s = inst["setting"]
            rows.append({"run": sub, "instance": i, "setting": s, "restart": inst["restart"],
                         "density": r.config.density[s][0], "loss": float(r.loss[i]), "best": i in best,
                         "sets": len(sets), **set_measures(r.W[i], sets)})
        models += rows
        for s in range(r.config.n_settings):
            mine = [m for m in rows if m["setting"] == s]
            top = min(mine, key=lambda m: m["loss"])
            point = {"run": sub, "setting": s, "density": top["density"], "restarts": len(mine),
                     "best_collapsed": top["collapsed_sets"], "best_loss": top["loss"]}
            point.update({f"collapsed_{k}": sum(m["collapsed_sets"] == k for m in mine) for k in range(4)})
            point.update({f"loss_{k}": min((m["loss"] for m in mine if m["collapsed_sets"] == k), default=None)
                          for k in range(4)})
            points.append(point)
    exp.write(MODELS, models)
    exp.write(POINTS, points)
