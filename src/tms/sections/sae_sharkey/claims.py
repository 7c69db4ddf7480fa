"""SAE-4 (BEYOND.md: Sharkey, Braun & Millidge 2022's setting), read from sharkey_saes.csv
(:mod:`tms.sections.sae_sharkey.analysis`)."""

from __future__ import annotations

from typing import Any

from tms.analysis.folder import Tables
from tms.claims.base import Claim, Measurement, failed_checks
from .analysis import SAES

LAMBDA = 0.1
"""The L1 coefficient of the spec's size claims."""
TWICE_MIN, TRUE_MIN, HALF_MAX = 0.95, 0.88, 0.65
BAND_MARGIN = 0.2
DEAD_LAMBDAS = (0.03, 0.1)
"""Dead latents are compared where the code lives (λ = 1 kills every dictionary's code)."""
DEAD_LARGE_MIN, DEAD_SMALL_MAX = 0.05, 0.03


def _rows(tables: Tables) -> list[Any]:
    return list(tables.read(SAES))


def _at(tables: Tables, d_sae: int, penalty: float) -> Any:
    return next(r for r in _rows(tables) if r["d_sae"] == d_sae and r["penalty"] == penalty)


def _true(tables: Tables) -> int:
    return _rows(tables)[0]["n_true"]


def _sizes(tables: Tables) -> list[int]:
    return sorted({r["d_sae"] for r in _rows(tables)})


def _lambdas(tables: Tables) -> list[float]:
    return sorted({r["penalty"] for r in _rows(tables)})


def _size_claim(tables: Tables, d_sae: int) -> Measurement:
    r = _at(tables, d_sae, LAMBDA)
    return Measurement(r["mmcs"], note=(
        f"{d_sae} latents for {r['n_true']} true features at λ = {LAMBDA:g} after {r['steps']} steps: MMCS "
        f"{r['mmcs']:.3f}, MCC {r['mcc']:.3f}, {r['recovered']:.0%} of the features at |cos| ≥ 0.99; the more "
        f"frequent half {r['mmcs_frequent']:.3f}, the rarer half {r['mmcs_rare']:.3f}"
        + (f" (median frequency rank of the features missed at |cos| < 0.9: {r['missed_median_rank']:.0f} of "
           f"{r['n_true']})" if r["missed_median_rank"] is not None else "")))


def sae_4a(tables: Tables) -> Measurement:
    return _size_claim(tables, 2 * _true(tables))


def sae_4b(tables: Tables) -> Measurement:
    return _size_claim(tables, _true(tables))


def sae_4c(tables: Tables) -> Measurement:
    sizes, lambdas = _sizes(tables), _lambdas(tables)
    alive = [lam for lam in lambdas if lam < max(lambdas)]
    half = sizes[0]
    checks = []
    for lam in alive:
        m = [_at(tables, d, lam)["mmcs"] for d in sizes]
        checks.append((f"λ = {lam:g}: MMCS " + " < ".join(f"{v:.3f} ({d})" for v, d in zip(m, sizes)),
                       all(a < b for a, b in zip(m, m[1:]))))
    best_half = max(_at(tables, half, lam)["mmcs"] for lam in lambdas)
    checks.append((f"the {half}-latent dictionary (half the true count) reaches at most MMCS {best_half:.3f} ≤ "
                   f"{HALF_MAX:g} at any λ", best_half <= HALF_MAX))
    return failed_checks(checks)


def sae_4d(tables: Tables) -> Measurement:
    lambdas = _lambdas(tables)
    lo, hi = min(lambdas), max(lambdas)
    checks = []
    for d in _sizes(tables)[1:]:
        m = {lam: _at(tables, d, lam)["mmcs"] for lam in lambdas}
        best = max(m, key=m.get)
        low = ("it is the band's low end" if best == lo else f"it beats λ = {lo:g} by {m[best] - m[lo]:.3f}")
        checks.append((f"{d} latents: the best λ is {best:g} (MMCS {m[best]:.3f}), below the top of the band, and "
                       f"beats λ = {hi:g} by {m[best] - m[hi]:.3f} ≥ {BAND_MARGIN:g} ({low}, reported)",
                       best < hi and m[best] - m[hi] >= BAND_MARGIN))
    return failed_checks(checks)


def sae_4e(tables: Tables) -> Measurement:
    n = _true(tables)
    rows = [r for r in _rows(tables) if r["penalty"] in DEAD_LAMBDAS]
    large = [r for r in rows if r["d_sae"] > n]
    small = [r for r in rows if r["d_sae"] <= n]
    lo_large = min(r["dead_share"] for r in large)
    hi_small = max(r["dead_share"] for r in small)
    checks = [
        (f"larger than the true count ({', '.join(str(r['dead']) + ' of ' + str(r['d_sae']) for r in large)} dead "
         f"at λ {', '.join(f'{x:g}' for x in DEAD_LAMBDAS)}): at least {lo_large:.1%} ≥ {DEAD_LARGE_MIN:.0%}",
         lo_large >= DEAD_LARGE_MIN),
        (f"no larger ({', '.join(str(r['dead']) + ' of ' + str(r['d_sae']) for r in small)}): at most "
         f"{hi_small:.1%} ≤ {DEAD_SMALL_MAX:.0%}", hi_small <= DEAD_SMALL_MAX),
    ]
    return failed_checks(checks)


CLAIMS = (
    Claim("SAE-4a", "A ReLU + L1 SAE with twice as many latents as true features recovers them (Sharkey et al. "
                    "2022's headline).",
          f"MMCS of the dictionary of twice the true count at λ = {LAMBDA:g}", ">=", TWICE_MIN, sae_4a),
    Claim("SAE-4b", "A dictionary of exactly the true count recovers most of them.",
          f"MMCS of the dictionary of the true count at λ = {LAMBDA:g}", ">=", TRUE_MIN, sae_4b),
    Claim("SAE-4c", "MMCS rises with the dictionary size; half the true count cannot recover them.",
          f"failed checks: MMCS rises with the size at every λ but the largest; the half-size dictionary ≤ "
          f"{HALF_MAX:g} at every λ", "<=", 0, sae_4c),
    Claim("SAE-4d", "The useful L1 coefficient lies inside the swept band: too large a λ kills the code.",
          f"failed checks: for the true-count and the larger dictionary, the best λ is below the band's top and "
          f"beats it by ≥ {BAND_MARGIN:g} in MMCS", "<=", 0, sae_4d),
    Claim("SAE-4e", "Dead latents signal a dictionary larger than the true count.",
          f"failed checks: at λ ∈ {{{', '.join(f'{x:g}' for x in DEAD_LAMBDAS)}}}, every dictionary larger than the "
          f"true count has ≥ {DEAD_LARGE_MIN:.0%} dead latents, every one no larger ≤ {DEAD_SMALL_MAX:.0%}",
          "<=", 0, sae_4e),
)
