"""S6-1, S6-2 (PAPER.md §6, adversarial vulnerability), read from adversarial_points.csv
(:mod:`tms.sections.adversarial.analysis`)."""

from __future__ import annotations

import math

from .analysis import POINTS
from tms.analysis.folder import Tables
from tms.claims.base import Claim, Measurement, spearman

MIN_RISE = 3.0
"""S6-1: 'more than 3x'."""
DENSE_FEATURES_PER_DIM = 1.05
"""S6-1: densities whose models hold at most 1.05 features per dimension are 'before superposition'."""
MIN_CORRELATION = 0.9
"""S6-2: Spearman correlation of vulnerability and features per dimension over the densities checked."""


def _points(tables: Tables) -> list[dict]:
    return sorted(tables.read(POINTS), key=lambda p: p["inverse_density"])


def s6_1(tables: Tables) -> Measurement:
    pts = _points(tables)
    before = [p["vulnerability"] for p in pts if p["features_per_dim"] <= DENSE_FEATURES_PER_DIM]
    base = sum(before) / len(before) if before else math.nan
    top = max(pts, key=lambda p: p["vulnerability"])
    rise = top["vulnerability"] / base if before else math.nan
    return Measurement(rise, note=(
        f"vulnerability (attacked minus clean loss, relative to a model without superposition) {base:.2f} on average "
        f"over the {len(before)} densities with at most {DENSE_FEATURES_PER_DIM:g} features per dimension, "
        f"{top['vulnerability']:.2f} at its peak (1/(1 − S) = {top['inverse_density']:.3g}, "
        f"{top['features_per_dim']:.1f} features per dimension): {rise:.1f}x"))


def s6_2(tables: Tables, up_to: float | None = None) -> Measurement:
    pts = _points(tables)
    top = max(pts, key=lambda p: p["vulnerability"])
    upto = top["inverse_density"] if up_to is None else up_to
    sel = [p for p in pts if p["inverse_density"] <= upto]
    rho = spearman([p["vulnerability"] for p in sel], [p["features_per_dim"] for p in sel])
    beyond = [p for p in pts if p["inverse_density"] > upto]
    tail = ", ".join(f"{p['inverse_density']:.3g}: {p['vulnerability']:.2f} vs {p['features_per_dim']:.1f}"
                     for p in beyond)
    shown = ", ".join(f"{p['inverse_density']:.3g}: {p['vulnerability']:.2f} vs {p['features_per_dim']:.2f}"
                      for p in sel[:: max(1, len(sel) // 6)])
    note = (f"Spearman correlation {rho:.3f} between vulnerability and features per dimension 1/D* over the "
            f"{len(sel)} densities up to the vulnerability's peak (1/(1 − S) ≤ {upto:.3g}; some of them, 1/(1 − S): "
            f"vulnerability vs 1/D*: {shown})")
    if beyond:
        note += (f". Sparser than the peak, vulnerability falls while 1/D* stays high ({tail}): the attack's norm, a "
                 "tenth of the mean input norm, shrinks with the inputs, and the models' negative biases filter "
                 "shifts that small (the reference model without superposition has b = 0 and filters nothing); "
                 "see the notes")
    return Measurement(rho, note=note)


CLAIMS = (
    Claim("S6-1", "Vulnerability rises sharply (more than 3x) as superposition forms.",
          "peak vulnerability over the mean vulnerability of the densities without superposition (≤ "
          f"{DENSE_FEATURES_PER_DIM:g} features per dimension)", ">", MIN_RISE, s6_1),
    Claim("S6-2", "It tracks features per dimension 1/D* = ‖W‖_F² / m across sparsity.",
          "Spearman correlation of vulnerability and 1/D* across the densities up to the vulnerability's peak",
          ">=", MIN_CORRELATION, s6_2),
)
