"""LLC-2 … LLC-4 (BEYOND.md, Chen et al. 2023), read from llc_regular.csv and llc_kgons_estimates.csv
(:mod:`tms.sections.llc.analysis`). LLC-4 is "not checked" (never a silent pass) when devinterp, the optional
``llc`` extra, was not installed for the run: the table then has no devinterp estimate."""

from __future__ import annotations

import dataclasses
import math

from tms.analysis.folder import Tables
from tms.claims.base import Claim, ClaimResult, Measurement, failed_checks
from .analysis import KGON_TABLE, REGULAR_TABLE

REGULAR_TOL = 0.15
AGREEMENT_Z = 3.0
"""LLC-4: |ours − devinterp| within this many standard errors of the difference (both samplers' chain spreads)."""


def llc_2(tables: Tables) -> Measurement:
    (row,) = tables.read(REGULAR_TABLE)
    rel = abs(row.llc - row.theory) / row.theory
    return Measurement(rel, note=(f"linear regression, d = {row.d}: λ̂ = {row.llc:.3f} ± {row.stderr:.3f} against "
                                  f"d/2 = {row.theory:g} ({100 * rel:.1f} % off; {row.escaped} chains escaped; "
                                  f"halves {row.first_half:.3f} → {row.second_half:.3f})"),
                       detail={"llc": row.llc, "stderr": row.stderr, "theory": row.theory})


def llc_3(tables: Tables) -> Measurement:
    est = {r.kgon: r for r in tables.read(KGON_TABLE)}

    def gt(a: str, b: str) -> tuple[str, bool]:
        x, y = est[a], est[b]
        return (f"λ̂({a}) = {x.ours:.2f} ± {x.ours_stderr:.2f} > λ̂({b}) = {y.ours:.2f} ± {y.ours_stderr:.2f}",
                bool(x.ours > y.ours))

    return failed_checks([gt("6", "5"), gt("5+", "5"), gt("5", "4")])


def llc_4(tables: Tables) -> Measurement:
    rows = tables.read(KGON_TABLE)
    if not all(r.devinterp_ran for r in rows):
        return Measurement(math.nan, note="not run: devinterp (the llc extra, devinterp==1.3.2) was not installed "
                                          "when the analysis ran; pip install 'tms-superposition[llc]' and rerun",
                           detail={"not_run": True})
    z = {r.kgon: abs(r.matched - r.devinterp) / math.hypot(r.matched_stderr, r.devinterp_stderr) for r in rows}
    worst = max(z, key=z.get)
    parts = "; ".join(f"{r.kgon}: {r.matched:.2f} ± {r.matched_stderr:.2f} vs {r.devinterp:.2f} ± "
                      f"{r.devinterp_stderr:.2f}" for r in rows)
    return Measurement(z[worst], note=f"ours vs devinterp 1.3.2 at the same settings, per k-gon: {parts}; the "
                                      f"largest gap is {z[worst]:.2f} standard errors ({worst})",
                       detail={"z": z})


@dataclasses.dataclass(frozen=True)
class OptionalClaim(Claim):
    """A claim that needs an optional reference (devinterp): "not checked" when its measurement says it was not
    run, never a pass."""

    def check(self, tables: Tables, experiment: str = "", checked: bool = True) -> ClaimResult:
        result = super().check(tables, experiment, checked)
        return dataclasses.replace(result, passed=None) if result.detail.get("not_run") else result


CLAIMS = (
    Claim("LLC-2", "On a regular model with d parameters the estimate is d/2 (within 15 %).",
          "|λ̂ − d/2| / (d/2) for linear regression, d = 10", "<=", REGULAR_TOL, llc_2),
    Claim("LLC-3", "The estimates order as theory: λ̂(6) > λ̂(5), λ̂(5⁺) > λ̂(5) > λ̂(4).",
          "failed orderings among the three", "<=", 0, llc_3),
    OptionalClaim("LLC-4", "Our estimate equals devinterp 1.3.2's with the same hyper-parameters, within chain noise.",
                  "largest |ours − devinterp| over the k-gons, in standard errors of the difference", "<=",
                  AGREEMENT_Z, llc_4),
)
