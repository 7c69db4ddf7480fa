"""Metrics on hand cases and against a naive loop (PAPER.md §0)."""

import math

import pytest
import torch

from tms import metrics


def naive(W):
    """Per-feature metrics with explicit loops, straight from the definitions."""
    m, n = W.shape
    norms, sup, dim = [], [], []
    for i in range(n):
        wi = W[:, i]
        ni = wi.norm().item()
        unit = wi / ni
        overl = [(unit @ W[:, j]).item() ** 2 for j in range(n)]
        norms.append(ni)
        sup.append(sum(o for j, o in enumerate(overl) if j != i))
        dim.append(ni**2 / sum(overl))
    return torch.tensor(norms), torch.tensor(sup), torch.tensor(dim)


def polygon(k, m=2):
    ang = torch.arange(k) * 2 * math.pi / k
    W = torch.zeros(m, k)
    W[0], W[1] = torch.cos(ang), torch.sin(ang)
    return W


def test_orthonormal_features_have_no_superposition_and_dimensionality_one():
    Q, _ = torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(0)))
    W = Q[:, :4]  # 4 orthonormal columns in 6 dims
    assert torch.allclose(metrics.feature_norms(W), torch.ones(4), atol=1e-6)
    assert torch.allclose(metrics.superposition(W), torch.zeros(4), atol=1e-6)
    assert torch.allclose(metrics.feature_dimensionality(W), torch.ones(4), atol=1e-6)
    assert metrics.dimensions_per_feature(W).item() == pytest.approx(6 / 4)


def test_antipodal_pair_has_dimensionality_one_half():
    W = torch.tensor([[1.0, -1.0]])
    assert torch.allclose(metrics.feature_dimensionality(W), torch.tensor([0.5, 0.5]))
    assert torch.allclose(metrics.superposition(W), torch.tensor([1.0, 1.0]))
    assert metrics.dimensions_per_feature(W).item() == pytest.approx(0.5)


@pytest.mark.parametrize("k,expected", [(3, 2 / 3), (5, 2 / 5)])
def test_regular_polygons(k, expected):
    # A regular k-gon in 2 dims: D_i = 1 / Σ_j cos²(θ_ij) = 1 / (k/2) (PAPER.md §4: triangle 2/3, pentagon 2/5)
    W = polygon(k)
    assert torch.allclose(metrics.feature_dimensionality(W), torch.full((k,), expected), atol=1e-6)
    assert metrics.dimensions_per_feature(W).item() == pytest.approx(2 / k)
    assert metrics.feature_dimensionality(W).sum().item() == pytest.approx(2.0, abs=1e-6)


def test_scaled_and_dropped_features():
    # Norm enters D_i: a feature at half length next to an orthogonal one has D = 1; a zero feature has D = 0.
    W = torch.tensor([[0.5, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert torch.allclose(metrics.feature_norms(W), torch.tensor([0.5, 1.0, 0.0]))
    assert torch.allclose(metrics.feature_dimensionality(W), torch.tensor([1.0, 1.0, 0.0]))
    # A short feature along a long one: Ŵ_0·W_1 = 2, superposition of feature 0 is 4, of feature 1 is 0.25
    W = torch.tensor([[0.5, 2.0]])
    assert torch.allclose(metrics.superposition(W), torch.tensor([4.0, 0.25]))


def test_against_naive_loop_on_random_batched_weights():
    W = torch.randn(3, 4, 9, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    norms = metrics.feature_norms(W)
    sup = metrics.superposition(W)
    dim = metrics.feature_dimensionality(W)
    for k in range(3):
        n_, s_, d_ = naive(W[k])
        assert torch.allclose(norms[k], n_.double(), atol=1e-10)
        assert torch.allclose(sup[k], s_.double(), atol=1e-10)
        assert torch.allclose(dim[k], d_.double(), atol=1e-10)
        assert metrics.dimensions_per_feature(W)[k].item() == pytest.approx(4 / W[k].pow(2).sum().item())
    assert torch.allclose(metrics.gram(W)[1], W[1].T @ W[1])


def test_cosines_and_overlaps_over_given_norms():
    # features.csv divides the float64 W by its float32 norms: the same numbers as the arithmetic spelled out
    W = torch.randn(3, 4, 6, generator=torch.Generator().manual_seed(0))
    W[0, :, 2] = 0
    norms, Wd = metrics.feature_norms(W).double(), W.double()
    unit = Wd / norms.clamp_min(1e-12)[:, None, :]
    assert torch.equal(metrics.cosines(Wd, norms=norms), torch.einsum("iha,ihb->iab", unit, unit))
    assert torch.equal(metrics.overlaps(Wd, norms=norms), torch.einsum("iha,ihb->iab", unit, Wd))
    assert torch.equal(metrics.cosines(Wd[1], norms=norms[1]), metrics.cosines(Wd, norms=norms)[1])
    # without norms: W's own, in its dtype
    assert torch.allclose(metrics.cosines(Wd), metrics.cosines(Wd, norms=norms), atol=1e-6)


def test_rejects_bad_shapes():
    with pytest.raises(ValueError, match="W must be"):
        metrics.feature_norms(torch.zeros(3))


def test_spearman_ranks_ties_by_their_mean():
    from tms.stats import spearman

    assert spearman([1, 2, 3, 4], [10, 20, 30, 45]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # y ranks (0.5, 0.5, 2.5, 2.5) against (0, 1, 2, 3): 4 / (2 sqrt 5)
    assert spearman([0, 1, 2, 3], [1, 1, 2, 2]) == pytest.approx(4 / (2 * 5**0.5))
    assert math.isnan(spearman([1, 2], [2, 1])) and math.isnan(spearman([1, 2, 3], [5, 5, 5]))
