"""The LLC sections' default (non-quick) run: every claim of llc, bayes and llc-dynamics passes, with its value
(about 5 minutes of CPU on one core; devinterp, the llc extra, is needed for LLC-4 to be checked)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def claims(tmp_path_factory):
    from tms.reproduce import reproduce

    pytest.importorskip("devinterp")
    out = tmp_path_factory.mktemp("beyond-llc")
    results = reproduce(["llc", "bayes", "llc-dynamics"], out)
    return {c.id: c for c in results}


@pytest.mark.parametrize("cid", ["LLC-1", "LLC-2", "LLC-3", "LLC-4", "LLC-5", "LLC-6"])
def test_claim_passes(claims, cid):
    c = claims[cid]
    assert c.passed is True, f"{cid}: measured {c.measured} ({c.threshold}); {c.note}"


def test_values(claims):
    assert claims["LLC-1"].measured <= 1e-4
    assert claims["LLC-2"].measured <= 0.15
    assert claims["LLC-4"].measured <= 3.0
    assert 400 <= claims["LLC-5"].detail["n_switch"] <= 900
