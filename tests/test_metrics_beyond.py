"""The beyond suite's measures against hand computations: data-point dimensionality, φ½, mean squared overlap and
the Welch bound, the convergence check, and power-law fits."""

import math

import numpy as np
import pytest
import torch

from tms.errors import ConfigError
from tms.fits import bootstrap_exponent, fit_power_law
from tms.metrics import (data_dimensionality, hidden_points, mean_squared_overlap, relative_change, share_represented,
                         welch_bound)


def _polygon(k: int) -> torch.Tensor:
    angles = torch.arange(k, dtype=torch.float64) * 2 * math.pi / k
    return torch.stack([angles.cos(), angles.sin()], dim=1)


@pytest.mark.parametrize("k", [3, 5, 8])
def test_points_on_a_regular_polygon_have_dimensionality_two_over_k(k):
    # Σ_s (ĥ_t·h_s)² = Σ_s cos²(θ_s − θ_t) = k/2 for a unit polygon, so D_t = 1/(k/2)
    assert torch.allclose(data_dimensionality(_polygon(k) * 1.7), torch.full((k,), 2 / k, dtype=torch.float64))


def test_data_dimensionality_of_orthogonal_antipodal_and_zero_points():
    h = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 0.0]]])
    # point 0 alone on its axis: 1; the antipodal pair: 1/(1 + 1) each; the zero point: 0
    assert data_dimensionality(h)[0].tolist() == pytest.approx([1.0, 0.5, 0.5, 0.0])


def test_hidden_points_are_W_x():
    W = torch.tensor([[[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]]])  # [1, hidden 2, feat 3]
    x = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]])  # [1, points 2, feat 3]
    assert hidden_points(W, x).tolist() == [[[1.0, 0.0], [2.0, 0.0]]]
    assert hidden_points(W[0], x[0]).tolist() == [[1.0, 0.0], [2.0, 0.0]]


def test_share_represented_counts_norms_above_a_half():
    W = torch.tensor([[[1.0, 0.4, 0.0, 0.3], [0.0, 0.0, 0.6, 0.4]]])  # norms 1, 0.4, 0.6, 0.5
    assert share_represented(W).tolist() == pytest.approx([0.5])  # 0.5 itself is not above ½
    assert share_represented(W[0], 0.3).item() == pytest.approx(1.0)


def test_mean_squared_overlap_by_hand_and_the_welch_bound():
    assert mean_squared_overlap(torch.eye(3)[None]).tolist() == pytest.approx([0.0])
    # the Mercedes frame (3 unit vectors at 120° in 2D): every cos² is 1/4, and it attains Welch's (3−2)/(2·2)
    frame = _polygon(3).T.float()[None] * torch.tensor([1.0, 2.0, 0.5])
    assert mean_squared_overlap(frame).item() == pytest.approx(0.25) and welch_bound(3, 2) == pytest.approx(0.25)
    # features below min_norm leave the mean: of (e1, e1+tiny e2, e2·0.1) only the first two count, cos² ≈ 1
    W = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1e-3, 0.1]])
    assert mean_squared_overlap(W, min_norm=0.5).item() == pytest.approx(1.0, abs=1e-5)
    assert math.isnan(mean_squared_overlap(W, min_norm=2.0).item())
    # random unit vectors stay above the bound; n ≤ m has bound 0
    g = torch.Generator().manual_seed(0)
    W = torch.randn(4, 10, 200, generator=g)
    assert (mean_squared_overlap(W) >= welch_bound(200, 10)).all() and welch_bound(5, 8) == 0.0
    assert welch_bound(1000, 10) == pytest.approx(990 / (10 * 999))


def test_relative_change_over_the_last_tenth_by_hand():
    steps = list(range(10, 1001, 10))  # T = 1000: windows (900, 950] and (950, 1000]
    flat = torch.ones(len(steps), 2)
    assert relative_change(steps, flat).tolist() == pytest.approx([0.0, 0.0])
    falling = torch.tensor([[1000.0 / s] for s in steps])
    before = np.mean([1000.0 / s for s in range(910, 951, 10)])
    end = np.mean([1000.0 / s for s in range(960, 1001, 10)])
    assert relative_change(steps, falling).item() == pytest.approx((before - end) / end, rel=1e-5)
    assert math.isnan(relative_change([1000], torch.ones(1, 1)).item())


def test_power_law_fit_recovers_an_exact_exponent_and_covers_a_noisy_one():
    m = [8, 16, 32, 64]
    exact = fit_power_law(m, [3.0 * v**-1.2 for v in m])
    assert exact.exponent == pytest.approx(-1.2) and exact.prefactor == pytest.approx(3.0) and exact.r2 == pytest.approx(1.0)
    assert exact.lo == pytest.approx(-1.2) and exact.hi == pytest.approx(-1.2)
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(200):
        y = [2.0 * v**-0.8 * math.exp(rng.normal(0, 0.1)) for v in m]
        f = fit_power_law(m, y)
        covered += f.lo <= -0.8 <= f.hi
    assert 0.9 <= covered / 200 <= 0.99  # a 95 % interval covers the truth about 95 % of the time
    two = fit_power_law([1, 2], [1.0, 0.5])
    assert two.exponent == pytest.approx(-1.0) and two.lo == -math.inf
    with pytest.raises(ConfigError, match="positive"):
        fit_power_law([1, 2], [1.0, 0.0])


def test_bootstrap_over_seeds_brackets_the_mean_fit():
    m = [10, 20, 40, 80]
    rng = np.random.default_rng(2)
    ys = [[v**-1.0 * math.exp(rng.normal(0, 0.05)) for v in m] for _ in range(5)]
    f = bootstrap_exponent(m, ys)
    assert f.lo <= f.exponent <= f.hi and f.hi - f.lo < 0.3 and f.exponent == pytest.approx(-1.0, abs=0.1)
