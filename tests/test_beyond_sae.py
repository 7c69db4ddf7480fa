"""The SAE sections' claims on their default (non-quick) run (slow: BEYOND.md SAE, about 8 minutes on 2 cores).

One module fixture reproduces every SAE section once; each section's tests read its claims from it.
"""

from __future__ import annotations

import pytest

from tms.reproduce import reproduce

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
    assert claims["SAE-1"].measured >= 0.95 and claims["SAE-1b"].measured >= 0.85
    assert claims["SAE-2"].measured <= -0.7
    failed = [f"{c.id}: {c.measured} vs {c.threshold} ({c.note})" for c in claims.values() if not c.passed]
    assert not failed, "\n".join(failed)
    out = sae_results[0] / "sae-recovery"
    assert (out / "figures" / "sae_recovery_map.png").is_file() and (out / "figures" / "sae1_cosines.png").is_file()


def test_sae_l1_claims_pass(sae_results):
    claims = _claims(sae_results, "sae-l1")
    assert set(claims) == {"SAE-3", "SAE-3b", "SAE-3c", "SAE-3d"}
    failed = [f"{c.id}: {c.measured} vs {c.threshold} ({c.note})" for c in claims.values() if not c.passed]
    assert not failed, "\n".join(failed)
