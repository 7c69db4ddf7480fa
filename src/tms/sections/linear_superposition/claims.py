"""ALT-1 and ALT-2 (BEYOND.md ALT), read from alt_models.csv (:mod:`.analysis`).

Each is a count of failed checks (threshold ``<= 0``), one check per model and condition, so the note names every
model that fails and by how much.
"""

from __future__ import annotations

from typing import Any

from tms.analysis.folder import Tables
from tms.claims.base import Claim, Measurement, failed_checks
from .analysis import FULL_RUN, MODEL_TABLE, REPRESENTED, TARGET_RUN

MIN_LARGE, MIN_SUM_SQ = 90, 30.0
"""ALT-1, target-only loss: at least this many of 100 features with ‖W_i‖ > 0.5, and Σ‖W_i‖² at least this."""
MAX_SUM_SQ_FULL, MAX_LARGE_FULL = 2.05, 3
"""ALT-1, full loss (control): Σ‖W_i‖² at most this (a rank-2 projection has 2) and at most this many large."""
MIN_GAP_SHARE = 0.1
"""ALT-2: the smallest neighbour angle below this share of 360°/n in every model."""
RANDOM_BAND = (0.001, 0.999)
"""ALT-2: the median gap, largest gap and share of wide gaps of every model lie within these percentiles of the
random reference (three statistics of three models: a truly random arrangement passes all nine with
probability ≈ 0.98)."""


def _rows(tables: Tables, run: str) -> list[Any]:
    return sorted(tables.rows(MODEL_TABLE, run=run), key=lambda r: r.instance)


def alt_1(tables: Tables) -> Measurement:
    checks = []
    for r in _rows(tables, TARGET_RUN):
        checks.append((f"target-only model {r.instance}: {r.n_large} features with norm > {REPRESENTED} "
                       f"(≥ {MIN_LARGE})", r.n_large >= MIN_LARGE))
        checks.append((f"target-only model {r.instance}: Σ‖W_i‖² = {r.sum_sq_norm:.2f} (≥ {MIN_SUM_SQ:g}; median "
                       f"norm {r.median_norm:.3f}, tight-frame theory {r.theory_norm:.3f})", r.sum_sq_norm >= MIN_SUM_SQ))
    for r in _rows(tables, FULL_RUN):
        checks.append((f"full-loss model {r.instance}: Σ‖W_i‖² = {r.sum_sq_norm:.3f} (≤ {MAX_SUM_SQ_FULL:g})",
                       r.sum_sq_norm <= MAX_SUM_SQ_FULL))
        checks.append((f"full-loss model {r.instance}: {r.n_large} features with norm > {REPRESENTED} "
                       f"(≤ {MAX_LARGE_FULL})", r.n_large <= MAX_LARGE_FULL))
    if not checks:
        return Measurement(float("nan"), note="no models of the target-only and full-loss runs")
    return failed_checks(checks)


def alt_2(tables: Tables) -> Measurement:
    checks = []
    lo, hi = RANDOM_BAND
    for r in _rows(tables, TARGET_RUN):
        even = 360.0 / 100
        checks.append((f"model {r.instance}: smallest neighbour angle {r.min_gap:.3f}° < {MIN_GAP_SHARE:g} × 360°/n "
                       f"= {MIN_GAP_SHARE * even:.2f}° (random angles' percentile {100 * r.min_gap_pct:.0f})",
                       r.min_gap < MIN_GAP_SHARE * even))
        for stat, text in (("median_gap", "median gap"), ("max_gap", "largest gap"), ("wide_share", "wide-gap share")):
            value, pct = getattr(r, stat), getattr(r, f"{stat}_pct")
            checks.append((f"model {r.instance}: {text} {value:.3g} at percentile {100 * pct:.1f} of random angles "
                           f"(within {100 * lo:g}-{100 * hi:g})", lo <= pct <= hi))
        checks.append((f"model {r.instance}: the post's criterion fails (smallest angle not within 20 % of 3.6°)",
                       not r.post_criterion))
    if not checks:
        return Measurement(float("nan"), note="no models of the target-only run")
    m = failed_checks(checks)
    verdict = ("The replication confirms many features with a large norm in 2 dimensions and refutes features spread "
               "in superposition: the directions are arranged like random angles (as in the authors' logged run, "
               "'Is in superposition: False'). ")
    return Measurement(m.value, note=verdict + m.note, detail=m.detail)


CLAIMS = (
    Claim("ALT-1", "With the target-only loss the 100 → 2 linear model keeps many features with a large norm; with "
                   "the full reconstruction loss it is a rank-2 projection.",
          f"failed checks of: target-only models ≥ {MIN_LARGE} features with norm > {REPRESENTED} and Σ‖W_i‖² ≥ "
          f"{MIN_SUM_SQ:g}; full-loss models Σ‖W_i‖² ≤ {MAX_SUM_SQ_FULL:g} and ≤ {MAX_LARGE_FULL} large",
          "<=", 0, alt_1),
    Claim("ALT-2", "But the directions are not spread in superposition: the gaps between them are those of random "
                   "angles and the post's own criterion (smallest angle within 20 % of 360°/n) fails.",
          f"failed checks of: every target-only model's smallest neighbour angle < {MIN_GAP_SHARE:g} × 360°/n, its "
          f"median gap, largest gap and wide-gap share within percentiles {RANDOM_BAND[0]:g}-{RANDOM_BAND[1]:g} of "
          "random angles, and the post's criterion false", "<=", 0, alt_2),
)
