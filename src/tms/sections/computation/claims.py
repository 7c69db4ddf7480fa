"""S8-1…S8-4 (PAPER.md §8, computation in superposition), read from the tables of
:mod:`tms.sections.computation.analysis`: the n = 3, m = 6 models (computation_pairs.csv) and the lowest-loss model of each
density of the 100 → 40 sweep (computation_points.csv, computation_motifs.csv)."""

from __future__ import annotations

import math

from .analysis import MOTIFS, PAIRS, POINTS, SECONDARY, clearest
from tms.analysis.folder import Tables
from tms.claims.base import Claim, Measurement, failed_checks

DENSE = 0.3
"""S8-2: the paper's all-monosemantic densities are 1 and 0.3."""
SPARSEST = 0.001
"""S8-2: the paper's all-highly-polysemantic density."""
MONO_TOLERANCE = 0.05
"""S8-2: at the dense end at most this share of neurons may be polysemantic (none in the paper's plots)."""
POLY_SPARSE = 0.9
"""S8-2: at 0.001 at least this share of the neurons is polysemantic,"""
HIGHLY = 3.0
"""and they carry at least this many features on average ('highly polysemantic')."""
RISE_SLACK = 0.05
"""S8-2: the polysemantic share may dip by this much from one density to the next sparser one (one or two neurons)."""
COEXIST = 0.1
"""S8-3: a density 'in between' has monosemantic and polysemantic neurons each making up at least 10 % of the
alive neurons (one monosemantic neuron among 39 polysemantic ones says nothing about which features stay
monosemantic)."""
MANY = 1 / 3
"""S8-3: 'many' neurons have a primary feature: at least a third of the polysemantic neurons in between."""


def _g(x: float) -> str:
    return f"{x:g}"


def _points(tables: Tables) -> list[dict]:
    return sorted(tables.read(POINTS), key=lambda p: -p["density"])  # dense to sparse


def intermediate(points: list[dict]) -> list[dict]:
    """The densities between the paper's dense and sparse ends whose model has both monosemantic and
    polysemantic neurons, each at least :data:`COEXIST` of the alive ones."""
    return [p for p in points if SPARSEST < p["density"] < DENSE
            and min(p["monosemantic"], p["polysemantic"]) >= COEXIST * p["alive"] > 0]


def s8_1(tables: Tables) -> Measurement:
    rows = tables.read(PAIRS)
    best = min(rows, key=lambda r: r["loss"])
    n = len(best["layout"].split())
    reached = sum(r["pairs"] == n for r in rows)
    return Measurement(float(best["pairs"]), note=(
        f"the lowest-loss of {len(rows)} models (1 − S = {best['density']:g}, loss {best['loss']:.2e}) has an |x| pair "
        f"(one positive-side and one negative-side monosemantic neuron, both writing positively onto the feature) for "
        f"{best['pairs']} of its {n} features; its neurons per feature by input sign: {best['layout']}; "
        f"{best['monosemantic']} monosemantic, {best['polysemantic']} polysemantic, {best['dead']} dead neurons. "
        f"{reached} of {len(rows)} restarts reach a pair for every feature (the others leave a neuron dead)"))


def s8_2(tables: Tables) -> Measurement:
    pts = _points(tables)
    dense = [p for p in pts if p["density"] >= DENSE]
    sparse = [p for p in pts if p["density"] <= SPARSEST]
    rises = [(a, b) for a, b in zip(pts, pts[1:]) if b["poly_share"] < a["poly_share"] - RISE_SLACK]
    table = ", ".join(f"{p['density']:g}: {p['polysemantic']}/{p['alive']} ({p['mean_carried']:.1f} features each)"
                      for p in pts)
    checks = [
        (f"at 1 − S ≥ {DENSE:g} at most {MONO_TOLERANCE:.0%} of the neurons are polysemantic", bool(dense) and all(
            p["poly_share"] <= MONO_TOLERANCE for p in dense)),
        (f"at 1 − S = {SPARSEST:g} at least {POLY_SPARSE:.0%} are polysemantic, carrying ≥ {HIGHLY:g} features on "
         "average", bool(sparse) and all(p["poly_share"] >= POLY_SPARSE and p["mean_carried"] >= HIGHLY
                                         for p in sparse)),
        (f"the polysemantic share never falls by more than {RISE_SLACK:g} as density falls (polysemantic/alive neurons "
         f"per density: {table})"
         + (f"; it falls at {', '.join(_g(b['density']) for _, b in rises)}" if rises else ""), not rises),
    ]
    return failed_checks(checks)


def s8_3(tables: Tables) -> Measurement:
    mid = intermediate(_points(tables))
    poly = sum(p["polysemantic"] for p in mid)
    dominant = sum(p["dominant_share"] * p["polysemantic"] for p in mid if p["dominant_share"] is not None)
    share = dominant / poly if poly else math.nan
    # averaged over the densities (each weighs the same): one density may show the tendency only faintly
    gap = sum(p["poly_primary"] - p["mono_primary"] for p in mid) / len(mid) if mid else math.nan
    rho = sum(p["rho"] if p["rho"] is not None else 0.0 for p in mid) / len(mid) if mid else math.nan
    per = "; ".join(f"{p['density']:g}: mean primary rank {p['mono_primary']:.1f} (monosemantic) vs "
                    f"{p['poly_primary']:.1f} (polysemantic), Spearman(rank, features carried) {p['rho']:.2f}, "
                    f"{p['dominant_share']:.0%} of the polysemantic with a primary" for p in mid)
    checks = [
        (f"there are densities in between with both kinds of neuron, each ≥ {COEXIST:.0%} of the neurons"
         + (f" ({', '.join(_g(p['density']) for p in mid)})" if mid else ""), bool(mid)),
        ("on average over them, the monosemantic neurons' primary features are more important (lower rank) than the "
         "polysemantic ones' and neurons of less important features carry more features (Spearman > 0)"
         + (f": mean rank gap {gap:.1f}, mean Spearman {rho:.2f} ({per})" if mid else ""),
         bool(mid) and gap > 0 and rho > 0),
        (f"at least {MANY:.0%} of their polysemantic neurons have one large primary feature and small secondary ones "
         f"(second-largest rescaled weight ≤ {SECONDARY:g}): {dominant:.0f} of {poly}"
         + (f" ({share:.0%})" if poly else ""), poly > 0 and share >= MANY),
    ]
    return failed_checks(checks)


def s8_4(tables: Tables) -> Measurement:
    pts = _points(tables)
    mid = {p["density"] for p in pts if SPARSEST < p["density"] < DENSE}
    found = [m for m in tables.read(MOTIFS) if m["density"] in mid]
    counts = ", ".join(f"{p['density']:g}: {p['motifs']}" for p in pts)
    if not found:
        return Measurement(0.0, note=f"asymmetric-superposition motifs per density: {counts}")
    top = clearest(found)
    scale = 2 / abs(top["w_strong"])  # written as the paper writes it, the strong input weight as 2
    return Measurement(float(len(found)), note=(
        f"asymmetric-superposition motifs between the dense and sparse ends: {len(found)} (per density: {counts}). "
        f"Shown (the largest interference among those whose total ends ≥ 5 % of it below zero), at 1 − S = "
        f"{top['density']:g}: neuron {top['neuron']} reads feature {top['strong']} and "
        f"{top['weak']} with input weights [{top['w_strong'] * scale:.2f}, {top['w_weak'] * scale:.2f}] and writes "
        f"them with [{top['out_strong'] / scale:.2f}, {top['out_weak'] / scale:.2f}] (input rescaled so the strong "
        f"one is ±2; the paper's [2, −½] and [½, 2]); it puts {top['interference']:.2f} per unit of feature "
        f"{top['strong']} onto output {top['weak']}, and neuron {top['inhibitor']} (input {top['w_inhibitor']:.2f}, "
        f"output {top['out_inhibitor']:.2f}) turns the total to {top['net']:.2f}"))


CLAIMS = (
    Claim("S8-1", "n = 3, m = 6: each feature gets one positive-side and one negative-side neuron "
                  "(|x| = ReLU(x) + ReLU(−x)).",
          "features of the lowest-loss n = 3 model with an |x| pair of monosemantic neurons", ">=", 3, s8_1),
    Claim("S8-2", "n = 100, m = 40, I_i = 0.8^i: from all neurons monosemantic (1 − S = 1, 0.3) to all highly "
                  "polysemantic (0.001), rising in between.",
          f"failed checks: ≤ {MONO_TOLERANCE:.0%} polysemantic at 1 − S ≥ {DENSE:g}; ≥ {POLY_SPARSE:.0%} polysemantic "
          f"with ≥ {HIGHLY:g} features each at {SPARSEST:g}; the share never falls by more than {RISE_SLACK:g} in "
          "between", "<=", 0, s8_2),
    Claim("S8-3", "In between, neurons that carry the most important features tend to stay monosemantic; many "
                  "neurons have one large 'primary' feature and small 'secondary' ones.",
          f"failed checks: at the densities with both kinds of neuron (each ≥ {COEXIST:.0%}), on average monosemantic "
          f"neurons have more important primary features; ≥ {MANY:.0%} of the polysemantic neurons have a primary "
          "feature", "<=", 0, s8_3),
    Claim("S8-4", "Asymmetric superposition: a neuron stores two features with input weights like [2, −½] and "
                  "reciprocal output weights [½, 2], and an inhibitory neuron turns the resulting positive "
                  "interference negative.",
          "motifs found by the detector (tms.sections.computation.analysis) at the densities between the dense and sparse "
          "ends", ">=", 1, s8_4),
)
