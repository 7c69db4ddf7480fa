"""S4-7…S4-11 (PAPER.md §4, correlated and anticorrelated features), read from correlated_models.csv and
correlated_points.csv (:mod:`tms.sections.correlated.analysis`). Each reads the lowest-loss restart of its run's settings
(PAPER.md §0: small models settle in local minima) and says how many restarts reached the same."""

from __future__ import annotations

from typing import Any

from .analysis import ANTIPODAL_COS, MODELS, POINTS
from tms.analysis.folder import Tables
from tms.text import plural
from tms.claims.base import Claim, Measurement, failed_checks

RUNS = {"S4-7": "pairs", "S4-8": "anticorrelated", "S4-9": "three", "S4-10": "ten", "S4-11": "collapse"}
CONTROL = "three-independent"
"""Run folders of the experiment each claim reads (the section's declaration, ``__init__.py``, declares them)."""
ORTHOGONAL_TOL = 0.1
"""S4-7: correlated features are orthogonal: |cos| ≤ 0.1 (within about 6° of 90°)."""
CHANCE_ADJACENT = 0.7
"""S4-9: six independent features put a chosen partner beside each feature at about chance: 2 of the 5 others
are neighbours (0.4). The control's mean share over its 20 restarts (standard error about 0.07) at most 0.7, far
from the correlated pairs' 1, is 'would not do this'."""
WITHIN_TOL = 0.05
"""S4-10: mean |cos| inside a set ≤ 0.05 ('almost orthogonal')."""
BETWEEN_RATIO = 3.0
"""S4-10: between-set |cos| at least 3x the within-set one: the interference sits between the sets."""
SPEC_RANGES = {1: (0.05, 0.15), 2: (0.15, 0.2), 3: (0.25, 0.5)}
TIE = 0.01
"""S4-11: where the lowest-loss fits with different numbers of collapsed pairs are within 1 % in loss, the switch is
a tie (a first-order switch: the two geometries' loss curves cross there); a tie may go either way."""
"""S4-11: the densities at which the spec has one, two and three of the three pairs collapsed."""


def _best(tables: Tables, run: str) -> list[dict[str, Any]]:
    return [m for m in tables.rows(MODELS, run=run) if m["best"]]


def _reached(tables: Tables, run: str, ok) -> str:
    rows = tables.rows(MODELS, run=run)
    return f"{sum(bool(ok(m)) for m in rows)} of {plural(len(rows), 'restart')}"


def s4_7(tables: Tables) -> Measurement:
    run = RUNS["S4-7"]
    best = _best(tables, run)[0]
    ok = best["n_represented"] == 4 and best["within_abs_cos"] is not None
    value = best["within_abs_cos"] if ok else float("nan")
    reached = _reached(tables, run, lambda m: m["within_abs_cos"] is not None and m["n_represented"] == 4
                       and m["within_abs_cos"] <= ORTHOGONAL_TOL)
    return Measurement(value, note=(
        f"lowest-loss of the restarts at density {best['density']:g}: {best['n_represented']} of 4 features "
        f"represented, mean |cos| between the two members of each correlated pair {value:.3f} (between features "
        f"of different pairs {best['between_abs_cos']:.3f}: antipodal when ≈ 1); {reached} have both pairs "
        f"orthogonal within {ORTHOGONAL_TOL:g}"))


def s4_8(tables: Tables) -> Measurement:
    run = RUNS["S4-8"]
    best = _best(tables, run)[0]
    reached = _reached(tables, run, lambda m: m["antipodal_within"] == 1.0)
    return Measurement(best["within_cos"] if best["within_cos"] is not None else float("nan"), note=(
        f"lowest-loss restart at density {best['density']:g} per feature (each set active with probability "
        f"{2 * best['density']:g}): mean cos between the members of each anticorrelated pair "
        f"{best['within_cos']:.4f}, share of antipodal pairs (cos ≤ −{ANTIPODAL_COS:g}) "
        f"{best['antipodal_within']:.2f}, loss {best['loss']:.3g}; {reached} reached both pairs antipodal (the "
        "others put correlated-looking pairs orthogonal and pay for it in loss)"))


def s4_9(tables: Tables) -> Measurement:
    best = _best(tables, RUNS["S4-9"])[0]
    control = tables.rows(MODELS, run=CONTROL)
    shares = [m["partner_adjacent"] for m in control if m["partner_adjacent"] is not None]
    chance = sum(shares) / len(shares) if shares else float("nan")
    adjacent = best["partner_adjacent"]
    checks = [
        (f"the lowest-loss fit of three correlated pairs (density {best['density']:g}) keeps all six features "
         f"({best['n_represented']} represented) with no pair collapsed ({best['collapsed_sets']})",
         best["n_represented"] == 6 and best["collapsed_sets"] == 0),
        (f"every feature has its partner beside it: share {adjacent:.2f} of features whose partner is an angular "
         "neighbour (= 1)" if adjacent is not None else "a feature with a partner", adjacent == 1.0),
        (f"six independent features (same density, {plural(len(control), 'restart')}) put the same 'partner' "
         f"beside a feature at about chance: mean share {chance:.2f} over the restarts ≤ {CHANCE_ADJACENT:g} (chance "
         "0.4)",
         bool(shares) and chance <= CHANCE_ADJACENT),
    ]
    return failed_checks(checks)


def s4_10(tables: Tables) -> Measurement:
    best = _best(tables, RUNS["S4-10"])[0]
    cfg = tables.config(RUNS["S4-10"])
    within, between = best["within_abs_cos"], best["between_abs_cos"]
    checks = [
        (f"inside each set of 10 the features are almost orthogonal: mean |cos| {within:.3f} ≤ {WITHIN_TOL:g}",
         within is not None and within <= WITHIN_TOL),
        (f"the interference sits between the sets: mean |cos| between them {between:.3f}, "
         f"{between / max(within, 1e-12):.1f}x the within-set one (≥ {BETWEEN_RATIO:g}x)",
         within is not None and between is not None and between >= BETWEEN_RATIO * within),
        (f"the model as a whole is in superposition: {best['n_represented']} of {cfg.n_features} features "
         f"represented in m = {cfg.n_hidden} (‖W‖_F² = {best['frobenius_sq']:.2f} > m)",
         best["frobenius_sq"] > cfg.n_hidden and best["n_represented"] > cfg.n_hidden),
    ]
    return failed_checks(checks)


def gap(point: dict) -> float | None:
    """Relative loss gap between the lowest-loss fit and the lowest-loss fit with another number of collapsed
    pairs (None when every restart collapsed the same number)."""
    best = point["best_loss"]
    others = [point[f"loss_{k}"] for k in range(4) if k != point["best_collapsed"] and point[f"loss_{k}"] is not None]
    return (min(others) - best) / best if others else None


def s4_11(tables: Tables) -> Measurement:
    points = sorted(tables.rows(POINTS, run=RUNS["S4-11"]), key=lambda p: p["density"])
    ties = [p for p in points if gap(p) is not None and gap(p) < TIE]
    firm = [p for p in points if p not in ties]
    counts = [p["best_collapsed"] for p in points]
    dens = [p["density"] for p in points]
    first = {k: next((p["density"] for p in firm if p["best_collapsed"] >= k), None) for k in (1, 2, 3)}
    firm_counts = [p["best_collapsed"] for p in firm]
    monotone = all(a <= b for a, b in zip(firm_counts, firm_counts[1:]))
    seq = ", ".join(f"{d:.3g}: {c}" + (" (tie)" if p in ties else "") for d, c, p in zip(dens, counts, points))
    tie_text = "; ".join(f"at {p['density']:.3g} the best fits with " + " and ".join(
        f"{k} collapsed ({p[f'loss_{k}']:.4g})" for k in range(4) if p[f"loss_{k}"] is not None) for p in ties)
    spec = "; ".join(f"{k} from {first[k]:.3g} (spec {lo:g}–{hi:g})" if first[k] else f"{k}: never"
                     for k, (lo, hi) in SPEC_RANGES.items())
    checks = [
        (f"the number of collapsed pairs never falls as density rises (lowest-loss fit per density: {seq}; a tie: "
         f"another count within {TIE:.0%} in loss{', ' + tie_text if ties else ', none'})", monotone),
        (f"none collapsed at the sparsest density ({dens[0]:.3g}) and all three at the densest ({dens[-1]:.3g})",
         counts[0] == 0 and counts[-1] == 3),
        (f"they collapse one after another, each at a higher density: {spec}",
         all(first[k] is not None for k in (1, 2, 3)) and first[1] < first[2] < first[3]),
    ]
    return failed_checks(checks)


CLAIMS = (
    Claim("S4-7", "m = 2, two sets of 2 correlated features (n = 4): correlated features are orthogonal.",
          "mean |cos∠(W_a, W_b)| over the two correlated pairs, lowest-loss restart, all four features represented",
          "<=", ORTHOGONAL_TOL, s4_7),
    Claim("S4-8", "m = 2, two sets of 2 anticorrelated features: anticorrelated features are antipodal.",
          "mean cos∠(W_a, W_b) over the two anticorrelated pairs, lowest-loss restart (−1: antipodal)",
          "<=", -ANTIPODAL_COS, s4_8),
    Claim("S4-9", "m = 2, three sets of 2 correlated features (n = 6): correlated features sit side by side "
                  "(hexagon neighbours); six independent features would not do this.",
          "failed checks: all six represented and none collapsed; every feature's partner an angular neighbour; the "
          f"same share for six independent features ≤ {CHANCE_ADJACENT:g} (chance 0.4)", "<=", 0, s4_9),
    Claim("S4-10", "m = 10, two sets of 10 correlated features: each set forms a local almost-orthogonal basis "
                   "(little interference inside a set) while the model as a whole is in superposition.",
          f"failed checks: mean |cos| inside a set ≤ {WITHIN_TOL:g}; between sets ≥ {BETWEEN_RATIO:g}x that; more "
          "features represented than dimensions", "<=", 0, s4_10),
    Claim("S4-11", "Three correlated pairs in m = 2, density swept: sets collapse onto their principal component "
                   "((a+b)/√2 kept, (a−b)/√2 dropped) as density rises: none at ≤ 0.05, one at 0.05–0.15, two at "
                   "0.15–0.2, all three at 0.25–0.5.",
          "failed checks: collapsed pairs (lowest-loss fit per density) never fall as density rises, apart from "
          f"ties (another count within {TIE:.0%} in loss); none at the sparsest, three at the densest; one, two and "
          "three pairs first collapsed at rising densities",
          "<=", 0, s4_11),
)
