"""§4 non-uniform: the exact loss-optimal curves (tms.sections.nonuniform.optimal) and their crossing r*
(BEYOND.md, the closing paragraph of LLC: r* = 0.269 ± 0.001, 0.264 with the dropped feature's output dead; at
r = 0.4 the pentagon 17 % lower; the dropped feature's best bias p₄/2)."""

from __future__ import annotations

import pytest
import torch

from tms.exact import sobol_points
from tms.sections.nonuniform import optimal
from tms.sections.nonuniform.analysis import DIGONS, PENTAGON


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: torch's intra-op threads only cost time (ten times the CPU on a busy host)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def points():
    return sobol_points(5, optimal.SAMPLES, optimal.REPLICATES, optimal.SEED)


def test_the_curves_cross_at_the_specs_r_star(points):
    rows = [optimal._row(g, r, optimal.optimum(g, r, points)) for r in (0.25, 0.29) for g in optimal.GEOMETRIES]
    assert {row["label"] for row in rows if row["geometry"] == PENTAGON} == {PENTAGON}
    assert {row["label"] for row in rows if row["geometry"] != PENTAGON} == {DIGONS}
    assert max(row["grad_max"] for row in rows) < optimal.TOLERANCE
    star = optimal.crossing(rows, DIGONS, points)["r_star"]
    dead = optimal.crossing(rows, optimal.DEAD, points)["r_star"]
    assert star == pytest.approx(0.269, abs=1e-3) and dead == pytest.approx(0.264, abs=1e-3)


def test_at_the_papers_snap_the_pentagon_is_17_percent_lower_and_the_dropped_bias_is_its_mean(points):
    r = optimal.PAPER_SNAP
    pent, dig = optimal.optimum(PENTAGON, r, points), optimal.optimum(DIGONS, r, points)
    assert 1 - pent.loss / dig.loss == pytest.approx(0.17, abs=0.005)
    assert float(dig.W[:, 4].norm()) < 1e-4  # the nearly dropped start (0.05) goes back to dropped: a minimum
    assert float(dig.b[4]) == pytest.approx(0.05 * r / 2, rel=1e-3)  # p₄/2 > 0


def test_below_r_0_12_the_pentagon_is_not_a_local_minimum(points):
    left = optimal.optimum(PENTAGON, 0.1, points)
    assert optimal.classify(left.W) == DIGONS
