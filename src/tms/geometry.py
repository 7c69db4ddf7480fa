"""The geometry of superposition (PAPER.md §4) as pure functions of one model's ``W [hidden, feat]``.

Features in superposition organise into groups ("tegum factors"): sets of features with interference inside
and none between them, each group a polytope in a subspace of its own. The *interference graph* joins two
represented features when ``|W_i · W_j|`` exceeds a threshold; its connected components are the groups. A
group of k features spanning d dimensions is named after the polytope it approximates (a digon: 2 features
in 1 dimension, antipodal; a triangle: 3 in 2; a tetrahedron: 4 in 3; a pentagon: 5 in 2; a square antiprism:
8 in 3), and in a uniform polytope every member has dimensionality D_i = d / k (an antipodal pair ½, a
pentagon 2/5, ...). A tegum product of two polytopes is two groups, orthogonal to each other: a triangular
bipyramid is a triangle (3 features at 2/3) and a digon (2 at ½), not 5 features at 3/5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import torch
from torch import Tensor

from .layout import REPRESENTED_NORM

#: The fractions the paper's D_i cluster at (PAPER.md S4-2), largest first, and 0 (not learned).
FRACTIONS = (Fraction(1), Fraction(3, 4), Fraction(2, 3), Fraction(1, 2), Fraction(2, 5), Fraction(3, 8))

#: Polytope names by (features, dimensions spanned).
POLYTOPES: dict[tuple[int, int], str] = {
    (1, 1): "dedicated",
    (2, 1): "digon",
    (3, 2): "triangle",
    (4, 3): "tetrahedron",
    (5, 2): "pentagon",
    (6, 2): "hexagon",
    (8, 3): "square antiprism",
}
#: The order polytopes are listed in (tables, figures), by dimensions per feature d / k, largest first.
POLYTOPE_ORDER = ("dedicated", "tetrahedron", "triangle", "digon", "pentagon", "square antiprism", "hexagon", "other")

#: Two represented features interfere when |W_i · W_j| exceeds this: a tenth of a fully represented feature's
#: ‖W_i‖² (cos 84° between unit vectors); what the polytopes have (the square antiprism's closest pairs 0.49, a
#: pentagon's 0.31) is far above, the residual overlap between tegum factors of trained models far below.
INTERFERENCE = 0.1
#: Tolerance for "≈ 1" / "≈ 0" in norms, in WᵀW entries (§2's identity deviation) and in cosines (|cos| ≤ 0.1 is
#: within ±5.7° of orthogonal; 1 + cos ≤ 0.1 is within 25.8° of antipodal), and the least Ŵ_i·W_j that counts as
#: positive interference (§2).
TOL = 0.1
#: A group spans the dimensions whose singular values exceed this share of its largest one.
SPAN_TOL = 0.1


def polytope_name(k: int, d: int) -> str:
    """The polytope of k features spanning d dimensions ('other' when it is none of :data:`POLYTOPES`)."""
    return POLYTOPES.get((k, d), "other")


@dataclass(frozen=True)
class Group:
    """A tegum factor: represented features that interfere with each other, and with no feature outside."""

    features: tuple[int, ...]
    dim: int
    """Dimensions the group's W_i span."""

    @property
    def size(self) -> int:
        return len(self.features)

    @property
    def name(self) -> str:
        return polytope_name(self.size, self.dim)

    @property
    def uniform_dimensionality(self) -> float:
        """d / k: each member's D_i when the polytope is uniform."""
        return self.dim / self.size


def interference(W: Tensor) -> Tensor:
    """|W_i · W_j| ``[feat, feat]`` (diagonal ‖W_i‖²): the interference graph's edge weights."""
    W = W.double()
    return (W.T @ W).abs()


def span_dimension(W: Tensor, tol: float = SPAN_TOL) -> int:
    """How many dimensions the columns of ``W [hidden, k]`` span: singular values above ``tol`` of the largest."""
    if W.numel() == 0:
        return 0
    s = torch.linalg.svdvals(W.double())
    return int((s > tol * s.max()).sum()) if float(s.max()) > 0 else 0


def groups(W: Tensor, represented: Tensor, threshold: float = INTERFERENCE) -> list[Group]:
    """The tegum factors of one model ``W [hidden, feat]``: connected components of the interference graph over
    the represented features (``represented``: bool ``[feat]``), in order of their first feature."""
    n = W.shape[1]
    rep = [i for i in range(n) if bool(represented[i])]
    edges = (interference(W) > threshold).tolist()
    seen: set[int] = set()
    out = []
    for start in rep:
        if start in seen:
            continue
        component, frontier = [], [start]
        seen.add(start)
        while frontier:
            i = frontier.pop()
            component.append(i)
            for j in rep:
                if j not in seen and edges[i][j]:
                    seen.add(j)
                    frontier.append(j)
        members = tuple(sorted(component))
        out.append(Group(members, span_dimension(W[:, list(members)])))
    return out


def nearest_fraction(d: float) -> Fraction:
    """The fraction of :data:`FRACTIONS` closest to ``d``."""
    return min(FRACTIONS, key=lambda f: abs(float(f) - d))


def fraction_label(f: Fraction) -> str:
    return "1" if f == 1 else f"{f.numerator}/{f.denominator}"


# Two-dimensional models (the introduction figure, §4 non-uniform superposition): directions on the plane.


def represented(W: Tensor) -> list[int]:
    """Features with ‖W_i‖ > REPRESENTED_NORM, in importance order; ``W`` is ``[2, feat]``."""
    norms = W.double().norm(dim=0)
    return [i for i in range(W.shape[1]) if norms[i] > REPRESENTED_NORM]


def adjacent_gaps_deg(W: Tensor, features: list[int]) -> list[float]:
    """Angles (degrees) between angularly adjacent directions W_i of ``features``; they sum to 360."""
    if not features:
        return []
    theta = sorted(math.degrees(math.atan2(float(W[1, i]), float(W[0, i]))) % 360.0 for i in features)
    return [b - a for a, b in zip(theta, theta[1:])] + [theta[0] + 360.0 - theta[-1]]


def pairings(features: list[int]) -> list[list[tuple[int, int]]]:
    """Every way to split ``features`` (an even number of them) into unordered pairs."""
    if not features:
        return [[]]
    first, rest = features[0], features[1:]
    out = []
    for k, partner in enumerate(rest):
        for tail in pairings(rest[:k] + rest[k + 1:]):
            out.append([(first, partner)] + tail)
    return out
