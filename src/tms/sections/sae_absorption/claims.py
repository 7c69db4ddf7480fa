"""SAE-5 (BEYOND.md: absorption, Chanin et al. 2024), read from absorption_saes.csv
(:mod:`tms.sections.sae_absorption.analysis`)."""

from __future__ import annotations

from typing import Any

from tms.analysis.folder import Tables
from tms.claims.base import Claim, Measurement
from .analysis import ALIGNED, CLEAN, CONTROL_MAX, Q_CHILD, SAES, TIED_STRICT_MAX, UNTIED_MIN


def _runs(tables: Tables, setting: str, tied: bool | None = None) -> list[Any]:
    return [r for r in tables.read(SAES)
            if r["setting"] == setting and r["family"] == "relu" and (tied is None or r["tied"] == tied)]


def _seeds(rows: list[Any]) -> str:
    return f"{len(rows)} runs ({len({r['seed'] for r in rows})} seeds × {len({r['penalty'] for r in rows})} λ)"


def sae_5a(tables: Tables) -> Measurement:
    rows = _runs(tables, "control")
    worst = max(rows, key=lambda r: r["absorption"])
    return Measurement(worst["absorption"], note=(
        f"child independent of the parent, {_seeds(rows)}, tied and untied: the largest absorption rate is "
        f"{worst['absorption']:.3f} ({'tied' if worst['tied'] else 'untied'}, λ = {worst['penalty']:g}, seed "
        f"{worst['seed']})"))


def sae_5b(tables: Tables) -> Measurement:
    rows = _runs(tables, "hierarchy", tied=False)
    worst = min(rows, key=lambda r: r["absorption"])
    child = [r["child_latent_parent_cos"] for r in rows]
    return Measurement(worst["absorption"], note=(
        f"untied, child fires only with its parent (q = {Q_CHILD:g}), {_seeds(rows)}: the smallest absorption "
        f"rate is {worst['absorption']:.3f}; the parent latent's |cos| with the parent "
        f"{min(r['parent_cos'] for r in rows):.3f}-{max(r['parent_cos'] for r in rows):.3f}, and the child's latent "
        f"leans {min(child):.3f}-{max(child):.3f} towards the parent (0.707: the decoder is (parent + child)/√2)"))


def sae_5c(tables: Tables) -> Measurement:
    rows = _runs(tables, "hierarchy", tied=True)
    worst = max(rows, key=lambda r: r["strict_absorption"])
    clean = sum(r["parent_cos"] >= CLEAN for r in rows)
    rotated = sum(r["rotated"] for r in rows)
    return Measurement(worst["strict_absorption"], note=(
        f"tied, the same hierarchy, {_seeds(rows)}: the largest strict absorption (parent latent aligned, |cos| ≥ "
        f"{ALIGNED:g}, and silent on parent-and-child samples) is {worst['strict_absorption']:.3f}. Recovery, "
        f"reported apart and not claimed: {clean} of {len(rows)} runs recover the parent cleanly (|cos| ≥ "
        f"{CLEAN:g}); {rotated} {'settles' if rotated == 1 else 'settle'} on a rotated basis (no latent within "
        f"|cos| {ALIGNED:g} of the parent; their "
        f"naive absorption rate, largest {max((r['absorption'] for r in rows if r['rotated']), default=0.0):.3f}, "
        "is not absorption)"))


CLAIMS = (
    Claim("SAE-5a", "Absorption needs co-occurrence: with the child independent of the parent, neither the tied nor "
                    "the untied L1 SAE absorbs (control).",
          "largest absorption rate (parent latent silent on parent-and-child samples) over every control run, "
          "tied and untied", "<=", CONTROL_MAX, sae_5a),
    Claim("SAE-5b", "An untied L1 SAE absorbs the parent into the child's latent in every run when the child fires "
                    "only with its parent.",
          "smallest absorption rate over the untied runs on the hierarchy (every seed and λ)", ">=", UNTIED_MIN,
          sae_5b),
    Claim("SAE-5c", "Tying the encoder to the decoder removes strict absorption (Chanin et al.'s remedy); whether "
                    "it recovers the parent is reported apart.",
          f"largest strict absorption (parent latent at |cos| ≥ {ALIGNED:g} yet silent) over the tied runs on the "
          "hierarchy", "<=", TIED_STRICT_MAX, sae_5c),
)
