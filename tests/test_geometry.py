"""§4 geometry on hand-built polytopes: dimensionalities d/k, tegum factors as interference groups, the names
of the polytopes, and Σ D_i = the dimensions used (PAPER.md §4)."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch

from tms import geometry
from tms.metrics import dimensions_per_feature, feature_dimensionality


def regular_polygon(k: int) -> torch.Tensor:
    """``[2, k]``: k unit vectors at 360°/k (k = 2: an antipodal pair in one dimension of a plane)."""
    a = torch.arange(k, dtype=torch.float64) * 2 * math.pi / k
    return torch.stack([torch.cos(a), torch.sin(a)])


def tetrahedron() -> torch.Tensor:
    v = torch.tensor([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=torch.float64) / math.sqrt(3)
    return v.T


def square_antiprism() -> torch.Tensor:
    """8 unit vectors: two squares turned 45° against each other at heights ±h, h² = ½ (a tight frame)."""
    h = math.sqrt(0.5)
    pts = [(math.cos(k * math.pi / 2 + s * math.pi / 4), math.sin(k * math.pi / 2 + s * math.pi / 4), (1 - 2 * s) * h)
           for s in (0, 1) for k in range(4)]
    v = torch.tensor(pts, dtype=torch.float64)
    return (v / v.norm(dim=1, keepdim=True)).T


def embed(blocks: list[torch.Tensor], m: int, extra_zero: int = 0, seed: int = 0) -> torch.Tensor:
    """The polytopes in orthogonal subspaces of an m-dimensional space (then rotated at random), plus
    ``extra_zero`` features that are not learned."""
    cols = sum(b.shape[1] for b in blocks) + extra_zero
    W = torch.zeros(m, cols, dtype=torch.float64)
    r = c = 0
    for b in blocks:
        W[r:r + b.shape[0], c:c + b.shape[1]] = b
        r, c = r + b.shape[0], c + b.shape[1]
    assert r <= m
    q, _ = torch.linalg.qr(torch.randn(m, m, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return q @ W


CASES = {
    "digon": (regular_polygon(2)[:1], 1, "digon", Fraction(1, 2)),
    "triangle": (regular_polygon(3), 2, "triangle", Fraction(2, 3)),
    "tetrahedron": (tetrahedron(), 3, "tetrahedron", Fraction(3, 4)),
    "pentagon": (regular_polygon(5), 2, "pentagon", Fraction(2, 5)),
    "square antiprism": (square_antiprism(), 3, "square antiprism", Fraction(3, 8)),
    "dedicated": (torch.ones(1, 1, dtype=torch.float64), 1, "dedicated", Fraction(1)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_polytope_alone_in_a_larger_space(name):
    block, dim, label, fraction = CASES[name]
    W = embed([block], m=10, extra_zero=3)
    k = block.shape[1]
    D = feature_dimensionality(W)
    assert torch.allclose(D[:k], torch.full((k,), float(fraction), dtype=torch.float64), atol=1e-9)
    assert torch.all(D[k:] == 0)  # not learned: 0
    (g,) = geometry.groups(W, W.norm(dim=0) > 0.5)
    assert g.features == tuple(range(k)) and g.dim == dim and g.name == label
    assert g.uniform_dimensionality == pytest.approx(float(fraction))
    assert geometry.nearest_fraction(float(D[0])) == fraction
    # Σ_i D_i counts the dimensions the polytope uses
    assert float(D.sum()) == pytest.approx(dim)


def test_tegum_products_split_into_their_factors():
    # A triangular bipyramid is a triangle and a digon in orthogonal subspaces: 3 features at 2/3 and 2 at ½,
    # not 5 at 3/5; an octahedron is three digons.
    bipyramid = embed([regular_polygon(3), regular_polygon(2)[:1]], m=6, seed=1)
    D = feature_dimensionality(bipyramid)
    assert torch.allclose(D, torch.tensor([2 / 3] * 3 + [1 / 2] * 2, dtype=torch.float64), atol=1e-9)
    parts = geometry.groups(bipyramid, bipyramid.norm(dim=0) > 0.5)
    assert [(g.features, g.name) for g in parts] == [((0, 1, 2), "triangle"), ((3, 4), "digon")]
    octahedron = embed([regular_polygon(2)[:1]] * 3, m=5, seed=2)
    assert [g.name for g in geometry.groups(octahedron, octahedron.norm(dim=0) > 0.5)] == ["digon"] * 3
    # a pentagonal bipyramid: 5 at 2/5 and 2 at ½; Σ D_i = 3 = the dimensions used, and D* = m / ‖W‖_F²
    pb = embed([regular_polygon(5), regular_polygon(2)[:1]], m=3, seed=3)
    assert float(feature_dimensionality(pb).sum()) == pytest.approx(3.0)
    assert float(dimensions_per_feature(pb)) == pytest.approx(3 / 7)


def test_interference_between_factors_below_the_threshold_keeps_them_apart():
    W = embed([regular_polygon(3), regular_polygon(2)[:1]], m=4, seed=4)
    tilt = W.clone()
    tilt[:, 3] += 0.05 * W[:, 0]  # the digon leans a little towards the triangle: |W_0 · W_3| = 0.05
    assert [g.name for g in geometry.groups(tilt, tilt.norm(dim=0) > 0.5)] == ["triangle", "digon"]
    tilt[:, 3] += 0.3 * W[:, 0]  # now it interferes: one group of 5 spanning 3 dimensions, no polytope's name
    (g,) = geometry.groups(tilt, tilt.norm(dim=0) > 0.5)
    assert g.size == 5 and g.dim == 3 and g.name == "other"


def test_names_and_fractions():
    assert geometry.polytope_name(2, 1) == "digon" and geometry.polytope_name(7, 3) == "other"
    assert [geometry.fraction_label(f) for f in geometry.FRACTIONS] == ["1", "3/4", "2/3", "1/2", "2/5", "3/8"]
    assert geometry.nearest_fraction(0.41) == Fraction(2, 5) and geometry.nearest_fraction(0.7) == Fraction(2, 3)
    assert geometry.span_dimension(torch.zeros(3, 0)) == 0
