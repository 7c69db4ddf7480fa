"""The SAE sections' claims on their default (non-quick) run (slow: BEYOND.md SAE, about 8 minutes on 2 cores).

One module fixture reproduces every SAE section once; each section's tests read its claims from it.
"""

from __future__ import annotations

import math

import pytest

from tms.reproduce import reproduce
from tms.sections.sae_absorption.claims import CONTROL_MAX, TIED_STRICT_MAX, UNTIED_MIN
from tms.sections.sae_recovery.claims import MAX_CORRELATION, MIN_MMCS, MIN_RECOVERED
from tms.sections.sae_sharkey.claims import TRUE_MIN, TWICE_MIN

pytestmark = pytest.mark.slow

SAE_SECTIONS = ["sae-recovery", "sae-l1", "sae-sharkey", "sae-absorption"]


@pytest.fixture(scope="module")
def sae_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("beyond-sae")
    return out, reproduce(SAE_SECTIONS, out, report=False)


def _claims(results, experiment):
    return {c.id: c for c in results[1] if c.experiment == experiment}


def test_sae_recovery_claims_pass(sae_results):
    claims = _claims(sae_results, "sae-recovery")
    assert set(claims) == {"SAE-1", "SAE-1b", "SAE-2"}
    assert claims["SAE-1"].measured >= MIN_MMCS and claims["SAE-1b"].measured >= MIN_RECOVERED
    assert claims["SAE-2"].measured <= MAX_CORRELATION
    failed = [f"{c.id}: {c.measured} vs {c.threshold} ({c.note})" for c in claims.values() if not c.passed]
    assert not failed, "\n".join(failed)
    out = sae_results[0] / "sae-recovery"
    assert (out / "figures" / "sae_recovery_map.png").is_file() and (out / "figures" / "sae1_cosines.png").is_file()


def test_sae_l1_claims_pass(sae_results):
    claims = _claims(sae_results, "sae-l1")
    assert set(claims) == {"SAE-3", "SAE-3b", "SAE-3c", "SAE-3d"}
    failed = [f"{c.id}: {c.measured} vs {c.threshold} ({c.note})" for c in claims.values() if not c.passed]
    assert not failed, "\n".join(failed)


def test_sae_sharkey_claims_pass(sae_results):
    claims = _claims(sae_results, "sae-sharkey")
    assert set(claims) == {"SAE-4a", "SAE-4b", "SAE-4c", "SAE-4d", "SAE-4e"}
    assert claims["SAE-4a"].measured >= TWICE_MIN and claims["SAE-4b"].measured >= TRUE_MIN
    failed = [f"{c.id}: {c.measured} vs {c.threshold} ({c.note})" for c in claims.values() if not c.passed]
    assert not failed, "\n".join(failed)
    out = sae_results[0] / "sae-sharkey"
    for name in ("sharkey_mmcs", "sharkey_dead", "sharkey_features"):
        assert (out / "figures" / f"{name}.png").is_file()


def test_sae_absorption_claims_pass(sae_results):
    from tms.analysis.folder import ExperimentFolder
    from tms.sections.sae_absorption.analysis import FAMILIES, SAES

    claims = _claims(sae_results, "sae-absorption")
    assert set(claims) == {"SAE-5a", "SAE-5b", "SAE-5c"}
    assert claims["SAE-5a"].measured <= CONTROL_MAX and claims["SAE-5b"].measured >= UNTIED_MIN
    assert claims["SAE-5c"].measured <= TIED_STRICT_MAX
    failed = [f"{c.id}: {c.measured} vs {c.threshold} ({c.note})" for c in claims.values() if not c.passed]
    assert not failed, "\n".join(failed)
    folder = ExperimentFolder(sae_results[0] / "sae-absorption")
    untied = [r for r in folder.read(SAES) if r["setting"] == "hierarchy" and not r["tied"] and r["family"] == "relu"]
    # the spec's pattern: the child's latent is (parent + child)/√2, the parent's latent is the parent's direction
    assert all(abs(r["child_latent_parent_cos"] - math.sqrt(0.5)) < 0.02 and r["parent_cos"] > 0.99 for r in untied)
    assert len(folder.read(FAMILIES)) == 5
