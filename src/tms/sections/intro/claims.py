"""INTRO-1…3 (PAPER.md "Introduction figure"), read from ``intro_geometry.csv`` (:mod:`tms.sections.intro.analysis`)."""

from __future__ import annotations

import math
from typing import Any

from tms.analysis.folder import Tables
from .analysis import (
    ANGLE_TOL_DEG,
    ANTIPODAL_PARTS,
    GEOMETRY,
    ORTHOGONAL_PARTS,
    TOL,
)
from tms.claims.base import Claim, Measurement


def _best_by_sparsity(tables: Tables) -> dict[float, dict[str, Any]]:
    return {1.0 - r["density"]: r for r in tables.read(GEOMETRY) if r["best"]}


def _closest(best: dict[float, dict[str, Any]], sparsity: float) -> tuple[float, dict[str, Any]]:
    S = min(best, key=lambda s: abs(s - sparsity))
    return S, best[S]


def _reached(tables: Tables, row: dict[str, Any]) -> str:
    members = tables.rows(GEOMETRY, setting=row["setting"])
    k = sum(r["configuration"] == row["configuration"] for r in members)
    return (f"{k} of {len(members)} restarts reached the lowest-loss restart's configuration "
            f"({row['configuration']})")


def intro1(tables: Tables) -> Measurement:
    S, row = _closest(_best_by_sparsity(tables), 0.0)
    parts = {p: row[f"orthogonal_{p}"] for p in ORTHOGONAL_PARTS}
    return Measurement(
        row["orthogonal_pair_deviation"],
        note=f"S = {S:.3g}, lowest-loss restart (instance {row['instance']}); {_reached(tables, row)}",
        detail={"sparsity": S, "instance": row["instance"], **parts},
    )


def intro2(tables: Tables) -> Measurement:
    S, row = _closest(_best_by_sparsity(tables), 0.8)
    parts = {p: row[f"antipodal_{p}"] for p in ANTIPODAL_PARTS}
    return Measurement(
        row["antipodal_pairs_deviation"],
        note=f"S = {S:.3g} (the density closest to S = 0.8), lowest-loss restart (instance {row['instance']}), "
             f"pairs {row['antipodal_pairing']}; {_reached(tables, row)}",
        detail={"sparsity": S, "instance": row["instance"], "pairing": row["antipodal_pairing"], **parts},
    )


def intro3(tables: Tables) -> Measurement:
    best = {S: r for S, r in sorted(_best_by_sparsity(tables).items()) if S >= 0.9 - 1e-9}
    if not best:
        return Measurement(math.nan, note="no density with S >= 0.9 in the run")
    devs = {S: r["pentagon_deviation"] for S, r in best.items()}
    worst = max(devs, key=devs.get)
    reached = "; ".join(f"S = {S:.3g}: {_reached(tables, r)}" for S, r in best.items())
    return Measurement(
        max(devs.values()),
        note=f"lowest-loss restart at each S >= 0.9 ({', '.join(f'{S:.3g}' for S in devs)}); worst at S = {worst:.3g}. "
             + reached,
        detail={"deviation_deg_by_sparsity": {f"{S:.4g}": d for S, d in devs.items()}},
    )


CLAIMS = (
    Claim(
        "INTRO-1",
        "Dense (S = 0): the 2 most important features get orthogonal directions; the other 3 are ≈ 0.",
        "max(|‖W_0‖−1|, |‖W_1‖−1|, |cos∠(W_0,W_1)|, ‖W_2‖, ‖W_3‖, ‖W_4‖) at S = 0",
        "<=", TOL, intro1,
    ),
    Claim(
        "INTRO-2",
        "S ≈ 0.8: the 4 most important features form 2 antipodal pairs; the least important is ≈ 0.",
        "best pairing of features 0–3: max(|‖W_i‖−1|, 1 + cos∠ within each pair, ‖W_4‖) at the S closest to 0.8",
        "<=", TOL, intro2,
    ),
    Claim(
        "INTRO-3",
        "S ≈ 0.9 and sparser: all 5 features are represented, as a pentagon (adjacent angles ≈ 72°).",
        "max over S ≥ 0.9 of max |adjacent angle − 72°| (degrees) between the represented features (‖W_i‖ > 0.5); "
        "fewer than 5 represented leaves a gap ≥ 90°",
        "<=", ANGLE_TOL_DEG, intro3,
    ),
)
