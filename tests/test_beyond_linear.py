"""The measures of section linear-superposition (BEYOND.md ALT) on hand-made directions, the random reference
against closed forms, and the tight-frame theory of the target-only loss against Monte Carlo."""

import math

import pytest
import torch

from tms.data import sample_alt
from tms.sections.linear_superposition.analysis import (
    circular_gaps, feature_angles, frame_anisotropy, gap_stats, noise_variance, onehot_accuracy, percentile,
    post_criterion, random_gap_stats, theory_norm)


def _W(angles_deg, norms=None):
    t = torch.deg2rad(torch.tensor(angles_deg, dtype=torch.float64))
    r = torch.ones_like(t) if norms is None else torch.tensor(norms, dtype=torch.float64)
    return torch.stack([r * torch.cos(t), r * torch.sin(t)])[None]  # [1, 2, n]


def test_angles_gaps_and_their_summaries_by_hand():
    W = torch.tensor([[[1.0, 0.0, -1.0, 0.0, 2.0], [0.0, 3.0, 0.0, -1.0, 2.0]]])
    assert feature_angles(W)[0].tolist() == pytest.approx([0, 90, 180, 270, 45])
    gaps = circular_gaps(torch.tensor([[100.0, 10.0, 350.0]]))
    assert gaps[0].tolist() == pytest.approx([90, 250, 20])
    s = gap_stats(gaps)
    assert (s["min_gap"].item(), s["median_gap"].item(), s["max_gap"].item()) == pytest.approx((20, 90, 250))
    # wide: >= 0.8 * 120 = 96 degrees: only the 250 gap
    assert s["wide_share"].item() == pytest.approx(1 / 3)
    even = gap_stats(circular_gaps(feature_angles(_W([k * 45.0 for k in range(8)]))))
    assert even["min_gap"].item() == pytest.approx(45) and even["wide_share"].item() == 1.0


def test_anisotropy_is_zero_for_a_tight_frame_and_one_on_a_line():
    assert frame_anisotropy(torch.tensor([0.0, 90.0])).item() == pytest.approx(0, abs=1e-12)
    assert frame_anisotropy(torch.tensor([0.0, 60.0, 120.0])).item() == pytest.approx(0, abs=1e-12)
    assert frame_anisotropy(torch.tensor([30.0, 210.0, 30.0])).item() == pytest.approx(1)
    # (1 ± a)/2 are the eigenvalues of the directions' second moment
    angles = torch.tensor([0.0, 20.0, 75.0])
    u = torch.stack([torch.cos(torch.deg2rad(angles)), torch.sin(torch.deg2rad(angles))])
    eig = torch.linalg.eigvalsh(u @ u.T / 3)
    a = frame_anisotropy(angles).item()
    assert eig.tolist() == pytest.approx([(1 - a) / 2, (1 + a) / 2])


def test_the_posts_criterion_and_the_percentile():
    assert post_criterion(3.6, 100) and post_criterion(2.9, 100) and post_criterion(4.3, 100)
    assert not post_criterion(2.8, 100) and not post_criterion(0.05, 100)
    ref = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert percentile(ref, 2.5) == 0.5 and percentile(ref, 0.0) == 0.0 and percentile(ref, 3.0) == 0.625


def test_the_random_reference_matches_the_spacings_closed_forms():
    # n uniform points on a circle of 360°: each gap is 360·Beta(1, n−1), so P(gap >= c) = (1 − c/360)^(n−1);
    # the smallest gap has mean 360/n², the largest 360 H_n / n.
    n, draws = 100, 20_000
    ref = random_gap_stats(n, draws, seed=1)
    wide = (1 - 0.8 / n) ** (n - 1)
    assert ref["wide_share"].mean().item() == pytest.approx(wide, abs=5 * ref["wide_share"].std().item() / math.sqrt(draws))
    assert ref["min_gap"].mean().item() == pytest.approx(360 / n**2, abs=5 * ref["min_gap"].std().item() / math.sqrt(draws))
    h = sum(1 / k for k in range(1, n + 1))
    assert ref["max_gap"].mean().item() == pytest.approx(360 * h / n, abs=5 * ref["max_gap"].std().item() / math.sqrt(draws))
    assert torch.equal(ref["median_gap"], random_gap_stats(n, draws, seed=1)["median_gap"])


def test_onehot_accuracy_by_hand():
    W = torch.eye(2)[None]
    assert onehot_accuracy(W, torch.zeros(1, 2)).item() == 1.0
    assert onehot_accuracy(W, torch.tensor([[0.0, 5.0]])).item() == 0.5


def test_theory_norm_by_hand():
    v = 0.95 * 0.01 / 3 - (0.95 * 0.05) ** 2
    assert noise_variance(0.95, 0.1) == pytest.approx(v)
    s = (1 / 12) / (1 / 12 + 49 * v)
    assert theory_norm(100, 0.95, 0.1) == pytest.approx(math.sqrt(s)) and theory_norm(100, 0.95, 0.1) == pytest.approx(0.807, abs=1e-3)


def test_the_tight_frame_loss_formula_against_monte_carlo():
    # An evenly spaced frame (tight for n >= 3) with norm r and the bias that cancels every mean: the target-only
    # loss's Monte Carlo mean equals (r² − 1)²/12 + r⁴ (n/2 − 1) Var(x_j), the formula theory_norm minimises.
    n, p, noise, r = 12, 0.9, 0.3, 0.7
    W = _W([k * 360.0 / n for k in range(n)], [r] * n)[0].float()
    cos = (W.T @ W) / r**2  # [n, n]
    s = r * r
    b = -((s - 1) / 2 + s * (p * noise / 2) * (cos.sum(dim=1) - 1))
    x, t = sample_alt(torch.full((1, n), p), 400_000, torch.Generator().manual_seed(0), noise=noise)
    out = x[0] @ W.T @ W + b
    err = (out.gather(1, t[0][:, None]) - x[0].gather(1, t[0][:, None])).squeeze(1) ** 2
    expected = (s - 1) ** 2 / 12 + s * s * (n / 2 - 1) * noise_variance(p, noise)
    assert err.mean().item() == pytest.approx(expected, abs=5 * err.std().item() / math.sqrt(err.numel()))
