"""SAE-1 and SAE-2 (BEYOND.md SAE), read from sae1.csv and sae_map.csv (:mod:`tms.sections.sae_recovery.analysis`)."""

from __future__ import annotations

import math

from .analysis import MAP, SAE1
from tms.analysis.folder import Tables
from tms.claims.base import Claim, Measurement, spearman

MIN_MMCS = 0.95
"""SAE-1: 'MMCS ≥ 0.95'."""
MIN_RECOVERED = 0.85
"""SAE-1: 'at least 85 % of them at |cos| ≥ 0.99'."""
MAX_CORRELATION = -0.7
"""SAE-2: recovery falls as the true L0 approaches m: the rank correlation of TopK's recovered share with the
true L0 over the map's models is at most this."""


def _sae1(tables: Tables) -> list:
    return list(tables.read(SAE1))


def sae1_mmcs(tables: Tables) -> Measurement:
    rows = _sae1(tables)
    worst = min(rows, key=lambda r: r["mmcs"])
    seeds = ", ".join(f"seed {r['seed']}: MMCS {r['mmcs']:.3f}, MCC {r['mcc']:.3f}, L0 {r['l0']:.2f}" for r in rows)
    return Measurement(worst["mmcs"], note=(
        f"TopK k = {worst['k']} (true L0 {worst['true_l0']:.2f}) on the {worst['represented']} represented features "
        f"of the 400 → 30 model at p = 0.01, {worst['steps']} steps; the worse of {len(rows)} seeds ({seeds})"))


def sae1_recovered(tables: Tables) -> Measurement:
    rows = _sae1(tables)
    worst = min(rows, key=lambda r: r["recovered"])
    shown = ", ".join(f"seed {r['seed']}: {100 * r['recovered']:.1f} %" for r in rows)
    return Measurement(worst["recovered"], note=(
        f"share of the represented features whose best decoder row has |cos| ≥ 0.99, the worse of {len(rows)} "
        f"seeds ({shown}); dead latents {', '.join(str(r['dead']) for r in rows)} of the dictionary"))


def sae2_falls(tables: Tables) -> Measurement:
    rows = sorted((r for r in tables.read(MAP) if r["family"] == "topk"), key=lambda r: r["true_l0"])
    rho = spearman([r["true_l0"] for r in rows], [r["recovered"] for r in rows]) if len(rows) > 2 else math.nan
    shown = "; ".join(f"n/m {r['n'] / r['m']:.3g}, p {r['density']:g}: L0 {r['true_l0']:.2f} → "
                      f"{100 * r['recovered']:.0f} % (MMCS {r['mmcs']:.2f})" for r in rows)
    return Measurement(rho, note=f"Spearman correlation over the {len(rows)} models of the map, TopK at the true "
                                 f"L0, by true L0: {shown}")


CLAIMS = (
    Claim("SAE-1", "On a trained model in superposition with sparse enough features, a TopK SAE at the true L0 "
                   "recovers the represented features: MMCS ≥ 0.95 on the 400 → 30 model at p = 0.01.",
          "MMCS of TopK (k = true L0) against the represented columns W_i, the worse seed", ">=", MIN_MMCS,
          sae1_mmcs),
    Claim("SAE-1b", "… and at least 85 % of them at |cos| ≥ 0.99.",
          "share of represented features recovered at |cos| ≥ 0.99, the worse seed", ">=", MIN_RECOVERED,
          sae1_recovered),
    Claim("SAE-2", "The recovery map: over n/m and density, recovery falls as the true L0 approaches m.",
          "Spearman correlation of TopK's recovered share with the model's true L0 over the map", "<=",
          MAX_CORRELATION, sae2_falls),
)
