"""tms.theory: closed forms against Monte-Carlo estimates of the same networks, hand-checked values, the 2 -> 1
boundaries (meeting at r = 1, p = 4/7) and the speed of the diagram."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from tms import theory as T
from tms.data import sample_features
from tms.model import forward, weighted_mse

POINTS = [(0.3, 0.05), (1.0, 0.4), (2.5, 0.8), (0.7, 1.0)]  # (r, p)


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("activation, bias", [("relu", "paper"), ("relu", "optimal"), ("linear", "paper")])
def test_closed_forms_match_monte_carlo(n, activation, bias):
    """Each candidate's closed form against a naive estimate of E Σ_i I_i (x_i - x'_i)^2 for its W and b."""
    for k, cand in enumerate(T.candidates(n)):
        for j, (r, p) in enumerate(POINTS):
            W, b = T.candidate_network(cand, p, activation, bias)
            assert W.shape == (T.HIDDEN[n], n)
            mc, se = T.monte_carlo_loss(W, b, T.importance(n, r), p, activation, samples=100_000, seed=97 * k + j)
            closed = float(T.candidate_loss(cand, r, p, activation, bias))
            assert abs(mc - closed) <= 5 * se + 1e-9, (cand.name, r, p, mc, closed, se)


def test_dropped_feature_takes_its_mean_as_bias():
    """A dropped feature's best constant output is p/2, leaving its variance p/3 - p^2/4."""
    for p in (0.01, 0.3, 0.9, 1.0):
        c = np.linspace(0, 1, 100_001)
        loss = T.constant_prediction_loss(p, c)
        assert c[np.argmin(loss)] == pytest.approx(p / 2, abs=1e-5)
        assert loss.min() == pytest.approx(float(T.dropped_loss(p)), abs=1e-9)
        # and the closed form of a constant output against a naive estimate, at a bias other than the best
        rng = np.random.default_rng(3)
        x = rng.random(400_000) * (rng.random(400_000) < p)
        err = (x - 0.2) ** 2
        assert abs(err.mean() - float(T.constant_prediction_loss(p, 0.2))) <= 5 * err.std() / np.sqrt(x.size)


def test_hand_checked_values():
    assert float(T.dropped_loss(1.0)) == pytest.approx(1 / 12)
    assert float(T.pair_relu_loss(1.0)) == pytest.approx(1 / 6)  # E[min(U, V)^2]
    assert float(T.pair_relu_loss(0.5)) == pytest.approx(0.25 / 6)
    two = {c.name: c for c in T.candidates(2)}
    # PAPER.md §3 formulas, 2 -> 1
    r, p = 3.0, 0.2
    assert float(T.candidate_loss(two["extra_dropped"], r, p)) == pytest.approx(r * (p / 3 - p**2 / 4))
    assert float(T.candidate_loss(two["main_dropped"], r, p)) == pytest.approx(p / 3 - p**2 / 4)
    assert float(T.candidate_loss(two["antipodal"], r, p)) == pytest.approx((1 + r) * p**2 / 6)
    # 3 -> 2
    three = {c.name: c for c in T.candidates(3)}
    assert float(T.candidate_loss(three["extra_dropped"], r, p)) == pytest.approx(r * (p / 3 - p**2 / 4))
    assert float(T.candidate_loss(three["normal_dropped"], r, p)) == pytest.approx(p / 3 - p**2 / 4)
    assert float(T.candidate_loss(three["normals_antipodal"], r, p)) == pytest.approx(p**2 / 3)
    assert float(T.candidate_loss(three["extra_antipodal"], r, p)) == pytest.approx((1 + r) * p**2 / 6)
    # the linear model's pair always carries the partner: its cost is the variance, as a dropped feature's
    assert float(T.candidate_loss(two["antipodal"], r, p, "linear")) == pytest.approx((1 + r) * (p / 3 - p**2 / 4))
    # labels of the extra feature
    assert [c.label for c in T.candidates(2)] == [T.NOT_REPRESENTED, T.DEDICATED, T.SUPERPOSITION]
    assert [c.label for c in T.candidates(3)] == [T.NOT_REPRESENTED, T.DEDICATED, T.DEDICATED, T.SUPERPOSITION]


def test_candidate_networks_by_hand():
    two = {c.name: c for c in T.candidates(2)}
    W, b = T.candidate_network(two["antipodal"], 0.3)
    np.testing.assert_allclose(W, [[1.0, -1.0]])
    np.testing.assert_allclose(b, [0.0, 0.0])
    W, b = T.candidate_network(two["extra_dropped"], 0.3)
    np.testing.assert_allclose(W, [[1.0, 0.0]])
    np.testing.assert_allclose(b, [0.0, 0.15])
    three = {c.name: c for c in T.candidates(3)}
    W, b = T.candidate_network(three["extra_antipodal"], 0.3)
    np.testing.assert_allclose(W, [[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    W, b = T.candidate_network(three["normals_antipodal"], 0.3, "linear")
    np.testing.assert_allclose(W, [[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(b, [0.15, 0.15, 0.0])


def test_2_1_boundaries_meet_at_r1_p4_7():
    """At r = 1, p = 4/7 all three candidates cost the same, and all three labels occur right around it."""
    losses = T.candidate_losses(2, 1.0, 4 / 7)
    np.testing.assert_allclose(losses, 16 / 147, rtol=1e-12)
    eps = 1e-3
    around = {int(T.theory_labels(2, 1 + dr, 4 / 7 + dp)) for dr in (-eps, eps) for dp in (-eps, eps)}
    assert around == {T.NOT_REPRESENTED, T.DEDICATED, T.SUPERPOSITION}
    # below p = 4/7 at r = 1: superposition; above: a feature is dropped
    assert int(T.theory_labels(2, 1.0, 4 / 7 - eps)) == T.SUPERPOSITION
    assert int(T.theory_labels(2, 1 + eps, 4 / 7 + eps)) == T.DEDICATED
    assert int(T.theory_labels(2, 1 - eps, 4 / 7 + eps)) == T.NOT_REPRESENTED


@pytest.mark.parametrize("r", [0.1, 0.3, 0.8, 1.5, 4.0, 10.0])
def test_2_1_superposition_boundary_formula(r):
    """Superposition iff (1 + r) p^2/6 < min(r, 1)(p/3 - p^2/4), i.e. below p* = 4r / (2 + 5r) for r <= 1 and
    p* = 4 / (5 + 2r) for r >= 1 (derived by hand); the boundary is symmetric in log r."""
    p_star = 4 * r / (2 + 5 * r) if r <= 1 else 4 / (5 + 2 * r)
    assert int(T.theory_labels(2, r, p_star * 0.999)) == T.SUPERPOSITION
    assert int(T.theory_labels(2, r, p_star * 1.001)) != T.SUPERPOSITION
    assert p_star == pytest.approx(4 * (1 / r) / (2 + 5 / r) if r >= 1 else 4 / (5 + 2 / r))


def test_3_2_diagram_shape():
    """3 -> 2: for r > 1 the extra feature is never in superposition (the normal features pair up instead);
    for r < 1 it is at low density and dropped at high density; at p = 1 never in superposition."""
    r = np.logspace(-1, 1, 101)
    p = np.logspace(-2, 0, 101)
    labels = T.theory_labels(3, r[:, None], p[None, :])
    assert (labels[r > 1] != T.SUPERPOSITION).all()
    assert (labels[r > 1] == T.DEDICATED).all()
    assert (labels[r < 1][:, 0] == T.SUPERPOSITION).all()
    assert (labels[r < 1][:, -1] == T.NOT_REPRESENTED).all()
    assert (T.theory_labels(2, r, 1.0) != T.SUPERPOSITION).all()


def test_linear_theory_never_superposition():
    r = np.logspace(-1, 1, 60)[:, None]
    p = np.logspace(-2, 0, 60)[None, :]
    for n in (2, 3):
        labels = T.theory_labels(n, r, p, "linear")
        assert (labels != T.SUPERPOSITION).all()
        assert (labels[r[:, 0] < 1] == T.NOT_REPRESENTED).all()
        assert (labels[r[:, 0] > 1] == T.DEDICATED).all()


def test_unlisted_triangle_is_never_cheapest():
    """3 -> 2: the three features at 120° (b = 0), not among the paper's candidates, costs more than the
    cheapest candidate (at leading order (2 + r) p^2/8 against (1 + r) p^2/6 or p^2/3)."""
    ang = np.deg2rad([90.0, 210.0, 330.0])
    W = np.stack([np.cos(ang), np.sin(ang)])
    for r, p in [(0.5, 0.05), (1.0, 0.1), (2.0, 0.3), (0.8, 0.6)]:
        mc, se = T.monte_carlo_loss(W, np.zeros(3), T.importance(3, r), p, samples=200_000, seed=5)
        best = float(T.theory_diagram(3, r, p).best_loss)
        assert mc - 5 * se > best


def test_pair_bias():
    """The ReLU pair's bias: b = 0 (the paper's) is not the best; b* is the grid argmin, ≈ p^2/(6(1-p))."""
    for p in (0.05, 0.3, 4 / 7, 0.9, 1.0):
        grid = np.linspace(0, 0.5, 50_001)
        brute = grid[np.argmin(T.pair_relu_loss(p, grid))]
        assert float(T.best_pair_bias(p)) == pytest.approx(brute, abs=2e-5)
        assert float(T.pair_relu_loss(p, T.best_pair_bias(p))) < float(T.pair_relu_loss(p, 0.0))
    assert float(T.best_pair_bias(0.05)) == pytest.approx(0.05**2 / (6 * 0.95), rel=0.05)
    # with the better pair the r = 1 crossing moves from 4/7 up
    p = np.linspace(0.3, 1, 7001)
    assert p[np.argmax(T.theory_labels(2, 1.0, p) != T.SUPERPOSITION)] == pytest.approx(4 / 7, abs=2e-4)
    assert p[np.argmax(T.theory_labels(2, 1.0, p, bias="optimal") != T.SUPERPOSITION)] > 0.6


def test_trainer_normalisation_is_mean_over_features():
    """The trainer's loss (mean over features) times n is the closed form (sum over features)."""
    cand = T.candidates(3)[3]
    r, p = 0.6, 0.3
    W, b = T.candidate_network(cand, p)
    g = torch.Generator().manual_seed(0)
    dens = torch.full((1, 3), p)
    imp = torch.tensor(T.importance(3, r), dtype=torch.float32)[None]
    Wt = torch.tensor(W, dtype=torch.float32)[None]
    bt = torch.tensor(b, dtype=torch.float32)[None]
    losses = torch.stack([weighted_mse(forward(Wt, bt, x, "relu"), x, imp)
                          for x in (sample_features(dens, 8192, g) for _ in range(40))])
    mean, se = float(losses.mean()), float(losses.std() / np.sqrt(len(losses)))
    closed = float(T.candidate_loss(cand, r, p))
    assert float(T.paper_loss(mean, 3)) == pytest.approx(closed, abs=5 * 3 * se)


def test_near_boundary():
    r, p = np.logspace(-1, 1, 20), np.logspace(-2, 0, 20)
    near = T.near_boundary(2, r, p)
    labels = T.theory_labels(2, r[:, None], p[None, :])
    # a point whose grid neighbour has another label is near a boundary
    for i in range(20):
        for j in range(19):
            if labels[i, j] != labels[i, j + 1]:
                assert near[i, j] and near[i, j + 1]
    assert not near[0, 0] and not near[-1, 0]  # deep in the superposition region
    assert not near[0, -1] and not near[-1, -1]  # p = 1, far from r = 1
    i, j = np.argmin(np.abs(np.log(r))), np.argmin(np.abs(np.log(p / (4 / 7))))
    assert near[i, j]


def test_diagram_is_fast():
    r = np.logspace(-1, 1, 200)[:, None]
    p = np.logspace(-2, 0, 200)[None, :]
    for n in (2, 3):
        t0 = time.perf_counter()
        d = T.theory_diagram(n, r, p)
        assert time.perf_counter() - t0 < 0.5
        assert d.labels.shape == (200, 200)


def test_rejects_unknown_problem():
    with pytest.raises(ValueError):
        T.candidates(4)
    with pytest.raises(ValueError):
        T.role_loss("pair", 0.5, activation="gelu")
