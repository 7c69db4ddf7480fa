"""S4-1…S4-3 (PAPER.md §4, uniform superposition), read from geometry_models.csv, geometry_features.csv and
geometry_groups.csv (:mod:`tms.sections.geometry.analysis`).

Which models the fraction and polytope claims look at: those in superposition (D* < :data:`SUPERPOSED_BELOW`)
whose D* has not fallen below the smallest fraction the paper names, 3/8. Sparser than that, every represented
feature's D_i lies below 3/8 too, the features spread evenly over the space (D_i ≈ m / features represented)
and no polytope is left to find; the figures show that regime, the claims are about the one before it.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from tms import geometry
from tms.analysis.folder import Tables
from .analysis import FEATURE_TABLE, GROUP_TABLE, MODEL_TABLE, NEAR, UNIFORM_TOL
from tms.text import plural
from tms.claims.base import Claim, Measurement, failed_checks

PLATEAU_TOL = 0.03
"""D* sits on a value v where |D* − v| ≤ this."""
MIN_PLATEAU_DECADES = 0.1
"""A plateau is wide when it spans at least this many decades of 1/(1 − S) (a factor 1.26 in sparsity ratio; at
least two steps of the grid's 16 per decade)."""
SUPERPOSED_BELOW = 0.97
"""A model is in superposition when D* < this (dense, D* = 1)."""
SMALLEST_FRACTION = 3 / 8
FRACTION_SHARE = 0.75
"""S4-2: at least this share of the represented features of the models looked at sit within NEAR of a fraction."""
UNIFORM_SHARE = 0.7
"""S4-3: at least this share of them sit in a named polytope whose members' D_i are d/k."""
SUM_TOL = 0.02
"""S4-3: Σ_i D_i within this share of m in every model in superposition."""


def plateau(best: list[dict[str, Any]], value: float) -> tuple[float, float, float]:
    """The longest run of consecutive densities (lowest-loss models, ordered by 1/(1 − S)) whose D* is within
    :data:`PLATEAU_TOL` of ``value``: (its width in decades, its first and last 1/(1 − S))."""
    widest = (0.0, math.nan, math.nan)
    start = None
    for k, row in enumerate(best + [None]):
        on = row is not None and abs(row["dims_per_feature"] - value) <= PLATEAU_TOL
        if on and start is None:
            start = k
        if not on and start is not None:
            lo, hi = best[start]["inverse_density"], best[k - 1]["inverse_density"]
            width = math.log10(hi / lo)
            if width > widest[0] or math.isnan(widest[1]):
                widest = (width, lo, hi)
            start = None
    return widest


def _best(tables: Tables) -> list[dict[str, Any]]:
    return sorted((r for r in tables.read(MODEL_TABLE) if r["best"]), key=lambda r: r["inverse_density"])


def s4_1(tables: Tables) -> Measurement:
    best = _best(tables)
    one, half = plateau(best, 1.0), plateau(best, 0.5)

    def pace(lo: float, hi: float) -> float:
        """How fast D* changes between 1/(1 − S) = lo and hi: its range over the decades between them."""
        rows = [r["dims_per_feature"] for r in best if lo <= r["inverse_density"] <= hi]
        return (max(rows) - min(rows)) / math.log10(hi / lo) if len(rows) > 1 and hi > lo else math.nan

    note = (f"lowest-loss model per density: D* within {PLATEAU_TOL:g} of 1 from 1/(1 − S) = {one[1]:.3g} to "
            f"{one[2]:.3g} ({one[0]:.3f} decades) and of ½ from {half[1]:.3g} to {half[2]:.3g} ({half[0]:.3f} "
            f"decades); D* changes by {pace(one[1], one[2]):.2f} and {pace(half[1], half[2]):.2f} per decade on them, "
            f"by {pace(one[2], half[1]):.2f} per decade between them")
    return Measurement(min(one[0], half[0]), note=note, detail={
        "plateau_1": {"decades": one[0], "from": one[1], "to": one[2]},
        "plateau_half": {"decades": half[0], "from": half[1], "to": half[2]},
        "change_per_decade": {"on_1": pace(one[1], one[2]), "on_half": pace(half[1], half[2]),
                              "between": pace(one[2], half[1])}})


def _looked_at(tables: Tables) -> list[dict[str, Any]]:
    """The models the fraction and polytope claims read (see the module docstring)."""
    return [r for r in tables.read(MODEL_TABLE)
            if SMALLEST_FRACTION - 1e-9 <= r["dims_per_feature"] < SUPERPOSED_BELOW]


def s4_2(tables: Tables) -> Measurement:
    models = _looked_at(tables)
    keep = {m["instance"] for m in models}
    feats = [f for f in tables.read(FEATURE_TABLE) if f["instance"] in keep]
    near = [f for f in feats if f["distance"] <= NEAR]
    by_fraction = Counter(f["nearest_fraction"] for f in near)
    xs = sorted({round(m["inverse_density"], 3) for m in models})
    share = len(near) / len(feats) if feats else math.nan
    # the share a spread of D_i evenly over [3/8, 1] would give, for comparison
    spread = len(geometry.FRACTIONS) * 2 * NEAR / (1 - SMALLEST_FRACTION)
    return Measurement(share, note=(
        f"{len(near)} of {len(feats)} represented features of the {len(models)} models with 3/8 ≤ D* < "
        f"{SUPERPOSED_BELOW:g} (1/(1 − S) = {xs[0] if xs else 'n/a'} to {xs[-1] if xs else 'n/a'}) have D_i within "
        f"{NEAR:g} of 1, 3/4, 2/3, 1/2, 2/5 or 3/8 (D_i spread evenly over [3/8, 1] would give about {spread:.2f}); "
        "by fraction: " + ", ".join(f"{k}: {v}" for k, v in sorted(by_fraction.items())) + ". Sparser, every D_i is "
        "below 3/8 (the figure)."),
        detail={"features": len(feats), "near": len(near), "by_fraction": dict(by_fraction)})


def s4_3(tables: Tables) -> Measurement:
    models = _looked_at(tables)
    keep = {m["instance"] for m in models}
    represented = sum(m["n_represented"] for m in models)
    uniform = sum(m["n_uniform"] for m in models)
    share = uniform / represented if represented else math.nan
    superposed = [m for m in tables.read(MODEL_TABLE) if m["dims_per_feature"] < SUPERPOSED_BELOW]
    m_dims = tables.config("").n_hidden
    worst = max(superposed, key=lambda m: abs(m["sum_dimensionality"] - m_dims)) if superposed else None
    kinds: dict[int, set[str]] = {}
    for g in tables.read(GROUP_TABLE):
        if g["instance"] in keep and g["polytope"] != "other" and g["max_deviation"] <= UNIFORM_TOL:
            kinds.setdefault(g["instance"], set()).add(g["polytope"])
    products = {i: k for i, k in kinds.items() if len(k - {"dedicated"}) >= 2}
    checks = [
        (f"{uniform} of {represented} represented features ({share:.3f}) sit in a named polytope with every member's "
         f"D_i within {UNIFORM_TOL:g} of d/k ≥ {UNIFORM_SHARE:g}", share >= UNIFORM_SHARE),
        (f"Σ_i D_i within {SUM_TOL:.0%} of m = {m_dims} in all {len(superposed)} models in superposition (farthest: "
         f"{worst['sum_dimensionality']:.3f} at 1/(1 − S) = {worst['inverse_density']:.3g})" if worst else
         "a model in superposition",
         worst is not None and abs(worst["sum_dimensionality"] - m_dims) <= SUM_TOL * m_dims),
        (f"{plural(len(products), 'model')} hold{'s' if len(products) == 1 else ''} two different polytopes as "
         "separate tegum factors"
         + (f" (e.g. {', '.join(sorted(next(iter(products.values()))))})" if products else ""), bool(products)),
    ]
    return failed_checks(checks)


CLAIMS = (
    Claim("S4-1", "D* sticks at 1 (dense) and at ½ (antipodal pairs) over a wide range of sparsity.",
          f"decades of 1/(1 − S) over which the lowest-loss model's D* stays within {PLATEAU_TOL:g} of 1, and of ½ "
          "(the narrower of the two)", ">=", MIN_PLATEAU_DECADES, s4_1),
    Claim("S4-2", "Feature dimensionalities cluster at 3/4, 2/3, ½, 2/5, 3/8 (and 0).",
          f"share of the represented features (‖W_i‖ > 0.5) of the models with 3/8 ≤ D* < {SUPERPOSED_BELOW:g} whose "
          f"D_i is within {NEAR:g} of one of those fractions", ">=", FRACTION_SHARE, s4_2),
    Claim("S4-3", "Features split into tegum factors, each a polytope in its own subspace; when packed efficiently "
                  "Σ_i D_i ≈ m.",
          f"failed checks: ≥ {UNIFORM_SHARE:g} of the represented features (models with 3/8 ≤ D* < "
          f"{SUPERPOSED_BELOW:g}) in an interference group (|W_i·W_j| > {geometry.INTERFERENCE:g}) that is a named "
          f"polytope with D_i = d/k; Σ_i D_i within {SUM_TOL:.0%} of m in every model in superposition; two different "
          "polytopes as separate factors of one model", "<=", 0, s4_3),
)
