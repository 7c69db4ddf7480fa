"""Geometry of 2-D models (the introduction figure, PAPER.md "Introduction figure"): which configuration each
model reached, and how far it is from the paper's.

Tables: ``intro_geometry.csv``, one row per model: its configuration (orthogonal pair, antipodal pair + one,
two antipodal pairs, pentagon, other), the INTRO-1…3 deviations and their parts; ``intro_configurations.csv``,
one row per density: how many restarts reached each configuration, and the lowest-loss one's.
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor

from tms.geometry import TOL, adjacent_gaps_deg, pairings, represented
from tms.layout import REPRESENTED_NORM
from tms.runs import Run
from tms.tables import Column, Schema
from tms.analysis.folder import ExperimentFolder

#: Tolerance for "≈" in the angle-based claims and the configuration labels, in degrees.
ANGLE_TOL_DEG = 10.0

ORTHOGONAL, PAIR_PLUS_ONE, ANTIPODAL, PENTAGON, OTHER = (
    "orthogonal pair", "antipodal pair + 1 orthogonal", "2 antipodal pairs", "pentagon", "other"
)
CONFIGURATIONS = (ORTHOGONAL, PAIR_PLUS_ONE, ANTIPODAL, PENTAGON, OTHER)
#: Column of each configuration's count in the table.
COLUMNS = {ORTHOGONAL: "orthogonal_pair", PAIR_PLUS_ONE: "antipodal_pair_plus_one", ANTIPODAL: "antipodal_pairs",
           PENTAGON: "pentagon", OTHER: "other"}


def _cos(W: Tensor, i: int, j: int) -> float:
    a, b = W[:, i].double(), W[:, j].double()
    return float(a @ b / (a.norm() * b.norm()).clamp_min(1e-12))


def pentagon_deviation(W: Tensor) -> float:
    """max |adjacent angle − 72°| over the represented features (degrees).

    Only represented features have a direction worth measuring. A regular pentagon of all five features gives
    0; fewer than five represented features leave a gap ≥ 90° (four: 72·4 = 288 leaves 72° over, so the
    deviation is ≥ 18°), so this one number also says whether all five are represented. ``inf`` when none is.
    """
    gaps = adjacent_gaps_deg(W, represented(W))
    return max(abs(g - 72.0) for g in gaps) if gaps else math.inf


def orthogonal_pair_deviation(W: Tensor) -> tuple[float, dict[str, float]]:
    """INTRO-1 measure: the two most important features have norm 1 and are orthogonal, the rest are 0.

    ``max(|‖W_0‖ − 1|, |‖W_1‖ − 1|, |cos∠(W_0, W_1)|, ‖W_2‖, …)``.
    """
    norms = W.double().norm(dim=0)
    parts = {
        "norm_0_minus_1": abs(float(norms[0]) - 1.0),
        "norm_1_minus_1": abs(float(norms[1]) - 1.0),
        "abs_cos_01": abs(_cos(W, 0, 1)),
        "max_norm_rest": float(norms[2:].max()) if W.shape[1] > 2 else 0.0,
    }
    return max(parts.values()), parts


def antipodal_pairs_deviation(W: Tensor) -> tuple[float, dict[str, float]]:
    """INTRO-2 measure: the four most important features form two antipodal pairs, the fifth is ≈ 0.

    Over the three ways to pair features 0–3, the best of
    ``max(|‖W_i‖ − 1| for i < 4, 1 + cos∠(W_i, W_j) for each pair, ‖W_4‖)``.
    """
    norms = W.double().norm(dim=0)
    best: tuple[float, dict[str, float]] = (math.inf, {})
    for pairing in pairings([0, 1, 2, 3]):
        parts = {f"norm_{i}_minus_1": abs(float(norms[i]) - 1.0) for i in range(4)}
        for i, j in pairing:
            parts[f"one_plus_cos_{i}{j}"] = 1.0 + _cos(W, i, j)
        parts["max_norm_rest"] = float(norms[4:].max()) if W.shape[1] > 4 else 0.0
        value = max(parts.values())
        if value < best[0]:
            best = (value, parts)
    return best


def classify(W: Tensor) -> str:
    """Name the configuration of a ``[2, 5]`` W (used to count how often each was reached)."""
    rep = represented(W)
    if rep == [0, 1] and abs(_cos(W, 0, 1)) <= TOL:
        return ORTHOGONAL
    if len(rep) == 3:
        for i, j in ((a, b) for a in rep for b in rep if a < b):
            (k,) = [x for x in rep if x not in (i, j)]
            if 1.0 + _cos(W, i, j) <= TOL and abs(_cos(W, i, k)) <= TOL:
                return PAIR_PLUS_ONE
    if len(rep) == 4:
        pairs = [p for p in pairings(rep) if all(1.0 + _cos(W, i, j) <= TOL for i, j in p)]
        if pairs:
            return ANTIPODAL
    if len(rep) == 5 and pentagon_deviation(W) <= ANGLE_TOL_DEG:
        return PENTAGON
    return OTHER


ORTHOGONAL_PARTS = ("norm_0_minus_1", "norm_1_minus_1", "abs_cos_01", "max_norm_rest")
ANTIPODAL_PARTS = ("norm_0_minus_1", "norm_1_minus_1", "norm_2_minus_1", "norm_3_minus_1", "one_plus_cos_a",
                   "one_plus_cos_b", "max_norm_rest")

GEOMETRY = Schema("intro_geometry.csv", (
    Column("instance", "int"), Column("setting", "int"), Column("restart", "int"), Column("density", "float"),
    Column("loss", "float"), Column("best", "bool"),
    Column("configuration", "str", "one of " + ", ".join(CONFIGURATIONS)),
    Column("n_represented", "int", f"features with ‖W_i‖ > {REPRESENTED_NORM:g} (norms in float64)"),
    Column("orthogonal_pair_deviation", "float", "INTRO-1's measure"),
    *(Column(f"orthogonal_{p}", "float") for p in ORTHOGONAL_PARTS),
    Column("antipodal_pairs_deviation", "float", "INTRO-2's measure"),
    Column("antipodal_pairing", "str", "the best pairing of features 0-3, e.g. '0-2 1-3'"),
    *(Column(f"antipodal_{p}", "float") for p in ANTIPODAL_PARTS),
    Column("pentagon_deviation", "float", "INTRO-3's measure (degrees; inf when no feature is represented)"),
))
CONFIGURATION_COUNTS = Schema("intro_configurations.csv", (
    Column("setting", "int"), Column("density", "float"), Column("sparsity", "float"), Column("restarts", "int"),
    Column("best_instance", "int"), Column("best_loss", "float"), Column("best_configuration", "str"),
    Column("best_represented", "int"),
    *(Column(COLUMNS[c], "int", f"restarts that reached: {c}") for c in CONFIGURATIONS),
    Column("represented_per_restart", "str"),
))


def geometry_rows(run: Run) -> list[dict[str, Any]]:
    best = set(run.best_instances())
    rows = []
    for i in range(run.config.n_instances):
        W = run.W[i]
        ortho, oparts = orthogonal_pair_deviation(W)
        anti, aparts = antipodal_pairs_deviation(W)
        pairs = [k for k in aparts if k.startswith("one_plus_cos_")]
        row = {
            "instance": i, "setting": run.instances[i]["setting"], "restart": run.instances[i]["restart"],
            "density": run.config.density[run.instances[i]["setting"]][0], "loss": float(run.loss[i]),
            "best": i in best, "configuration": classify(W), "n_represented": len(represented(W)),
            "orthogonal_pair_deviation": ortho, "antipodal_pairs_deviation": anti,
            "antipodal_pairing": " ".join(f"{k[-2]}-{k[-1]}" for k in pairs),
            "pentagon_deviation": pentagon_deviation(W),
        }
        row.update({f"orthogonal_{p}": oparts[p] for p in ORTHOGONAL_PARTS})
        for p in ANTIPODAL_PARTS:
            key = pairs[0] if p == "one_plus_cos_a" else pairs[1] if p == "one_plus_cos_b" else p
            row[f"antipodal_{p}"] = aparts.get(key, math.nan)
        rows.append(row)
    return rows


def configuration_rows(geometry: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per density from the per-model rows: how many restarts reached each configuration."""
    by_setting: dict[int, list[dict[str, Any]]] = {}
    for r in geometry:
        by_setting.setdefault(r["setting"], []).append(r)
    rows = []
    for s, members in sorted(by_setting.items()):
        best = next(r for r in members if r["best"])
        labels = [r["configuration"] for r in members]
        row = {
            "setting": s, "density": best["density"], "sparsity": round(1.0 - best["density"], 6),
            "restarts": len(members), "best_instance": best["instance"], "best_loss": best["loss"],
            "best_configuration": best["configuration"], "best_represented": best["n_represented"],
        }
        row.update({COLUMNS[c]: labels.count(c) for c in CONFIGURATIONS})
        row["represented_per_restart"] = " ".join(str(r["n_represented"]) for r in members)
        rows.append(row)
    return rows


def analyze_intro(exp: ExperimentFolder) -> None:
    """Write intro_geometry.csv and intro_configurations.csv from the experiment's run."""
    rows = geometry_rows(exp.run(""))
    exp.write(GEOMETRY, rows)
    exp.write(CONFIGURATION_COUNTS, configuration_rows(rows))
