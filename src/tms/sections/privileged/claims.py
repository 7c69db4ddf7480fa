"""S7-1…S7-3 (PAPER.md §7, superposition in a privileged basis), read from privileged_points.csv
(:mod:`tms.sections.privileged.analysis`): the lowest-loss model of each density."""

from __future__ import annotations

from tms.analysis.folder import Tables
from .analysis import POINTS
from tms.claims.base import Claim, Measurement, failed_checks

DENSE = 0.5
"""S7-1: 'dense' is 1 − S ≥ 0.5."""
M_NEURONS = 5
SPEC_REGIMES = (("5/5/0", "1 − S ≥ 0.5: every feature its own neuron"),
                ("6/3/2", "0.2-0.5: three features in two neurons, the top three their own"),
                ("7/2/3", "~0.15: five features in three neurons"),
                ("7/1/4", "~0.12: six features in four neurons"),
                ("8/0/5", "0.05-0.08: eight features in five neurons, all polysemantic"),
                ("10/0/5", "≤ 0.04: every feature on a pair of neurons"))
"""S7-2: the paper's regimes as density falls, as represented / monosemantic / polysemantic neurons."""
TIE = 0.01
"""S7-2: a density whose best model is within 1 % in loss of a model in another regime is a tie between the two
(the regimes' loss curves cross there): it does not count for the monotonicity (its regime still counts as
found)."""


def _points(tables: Tables) -> list[dict]:
    return sorted(tables.read(POINTS), key=lambda p: -p["density"])  # dense to sparse


def s7_1(tables: Tables) -> Measurement:
    dense = [p for p in _points(tables) if p["density"] >= DENSE]
    off = [p for p in dense if p["monosemantic"] != M_NEURONS]
    text = ", ".join(f"{p['density']:g}: {p['regime']} (reached by {p['reached']} of {p['restarts']})" for p in dense)
    return Measurement(float(len(off)), note=(
        f"densities ≥ {DENSE:g} whose lowest-loss model does not have all {M_NEURONS} neurons monosemantic: "
        f"{len(off)} of {len(dense)} (represented/monosemantic/polysemantic per density: {text})"))


def in_order(found: list[str], wanted: list[str]) -> list[str]:
    """The regimes of ``wanted`` that appear in ``found`` in the same order (a greedy subsequence match)."""
    out, k = [], 0
    for regime in wanted:
        try:
            k = found.index(regime, k) + 1
        except ValueError:
            continue
        out.append(regime)
    return out


def s7_2(tables: Tables) -> Measurement:
    everything = _points(tables)
    ties = [p for p in everything if p["gap"] is not None and p["gap"] < TIE]
    pts = [p for p in everything if p not in ties]
    seq: list[str] = []  # every density counts for which regimes appear, ties too: its best model is in it
    for p in everything:
        if not seq or seq[-1] != p["regime"]:
            seq.append(p["regime"])
    wanted = [r for r, _ in SPEC_REGIMES]
    hit = in_order(seq, wanted)
    missed = [f"{r} ({text})" for r, text in SPEC_REGIMES if r not in hit]
    rep_up = all(a["represented"] <= b["represented"] for a, b in zip(pts, pts[1:]))
    poly_up = all(a["polysemantic"] <= b["polysemantic"] for a, b in zip(pts, pts[1:]))
    table = ", ".join(f"{p['density']:g}: {p['regime']} ({p['reached']}/{p['restarts']})"
                      + (f" tie with {p['runner_up']} ({p['gap']:.1%})" if p in ties else "") for p in everything)
    checks = [
        (f"as density falls, features represented never decrease and polysemantic neurons never decrease, ties "
         f"(another regime within {TIE:.0%} in loss) aside (density: represented/monosemantic/polysemantic (restarts "
         f"reaching it): {table})", rep_up and poly_up),
        (f"the lowest-loss models pass through {len(hit)} of the paper's {len(wanted)} regimes in its order "
         f"({' → '.join(seq)})" + (f"; not found: {'; '.join(missed)}" if missed else ""),
         len(hit) >= len(wanted) - 1 and hit[0] == wanted[0] and hit[-1] == wanted[-1]),
    ]
    return failed_checks(checks)


def s7_3(tables: Tables) -> Measurement:
    both = [p for p in _points(tables) if p["monosemantic"] > 0 and p["polysemantic"] > 0]
    text = ", ".join(f"{p['density']:g} ({p['monosemantic']} mono, {p['polysemantic']} poly)" for p in both)
    return Measurement(float(len(both)), note=f"densities whose lowest-loss model has monosemantic and polysemantic "
                                              f"neurons side by side: {len(both)}" + (f": {text}" if both else ""))


CLAIMS = (
    Claim("S7-1", "Dense (1 − S ≥ 0.5): every neuron is monosemantic.",
          f"densities ≥ {DENSE:g} whose lowest-loss model has a neuron that is not monosemantic", "<=", 0, s7_1),
    Claim("S7-2", "Regimes as density falls: 0.2–0.5, three features in two neurons (the top three keep their own "
                  "neurons); ~0.15, five features in three neurons; ~0.12, six features in four neurons; 0.05–0.08, "
                  "eight features in five neurons, all polysemantic; ≤ 0.04, every feature a pair of neurons "
                  "(C(5,2) = 10 pairs).",
          "failed checks: represented features and polysemantic neurons never decrease as density falls (ties within "
          f"{TIE:.0%} in loss aside); the paper's six regimes (as represented/monosemantic/polysemantic) appear in its "
          "order, the first and last and at most one other missing", "<=", 0, s7_2),
    Claim("S7-3", "Monosemantic and polysemantic neurons coexist at intermediate sparsity.",
          "densities whose lowest-loss model has both monosemantic and polysemantic neurons", ">=", 1, s7_3),
)
