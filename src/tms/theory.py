"""Closed-form expected losses of the §3 candidate solutions and the theoretical phase diagram (PAPER.md §3).

Problems: 2 features in 1 dimension and 3 features in 2 dimensions. Every feature has importance 1 except the
last one, the *extra* feature, with relative importance r; all features share the density p. A candidate
solution gives every feature one of three roles:

- ``dedicated``: its own hidden direction, orthogonal to every other feature, bias 0: reconstructed exactly;
- ``dropped``: W_i = 0; the output is its bias, and the best constant is the feature's mean, b_i = p/2
  (E[(x - c)^2] = p/3 - p c + c^2 is least at c = p/2), leaving its variance p/3 - p^2/4;
- ``pair``: two features share one hidden direction with opposite signs (an antipodal pair, W = [1, -1]).
  ReLU model, bias 0 (the paper's candidate): x'_1 = ReLU(x_1 - x_2) errs only when both are active,
  by min(x_1, x_2), and E[min(U, V)^2] = 1/6, so p^2/6 per feature. Linear model: x'_1 = x_1 - x_2 + b_1
  always carries -x_2, the best bias is again p/2 and the cost is the variance p/3 - p^2/4.

A candidate's expected loss is Σ_i I_i * (cost of feature i's role). **Normalisation**: as in the paper (§0:
L = E Σ_i I_i (x_i - x'_i)^2) the loss here is a *sum* over features. The trainer minimises the *mean* over
features (:func:`tms.model.weighted_mse`), which is this divided by n; compare with :func:`paper_loss`.

The paper's antipodal candidate has b = 0, but b = 0 is not its best bias: at b = 0 a small positive bias
lowers the error when both features are active (slope -p^2/3) while costing only O(b^2) elsewhere. With
``bias="optimal"`` the pair features take the bias b*(p) that minimises :func:`pair_relu_loss`; the
boundaries move (most near p = 4/7), which is how we explain some disagreements with training.

Everything is vectorised over numpy arrays of r and p (broadcast together).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

LABELS = ("not_represented", "dedicated", "superposition")
"""Labels of the extra feature, in the order of their integer codes."""
NOT_REPRESENTED, DEDICATED, SUPERPOSITION = 0, 1, 2
ROLES = ("dedicated", "dropped", "pair")
BIASES = ("paper", "optimal")
_ROLE_LABEL = {"dropped": NOT_REPRESENTED, "dedicated": DEDICATED, "pair": SUPERPOSITION}


@dataclass(frozen=True)
class Candidate:
    """A candidate solution: one role per feature (the extra feature last)."""

    name: str
    roles: tuple[str, ...]
    description: str

    def __post_init__(self) -> None:
        if any(role not in ROLES for role in self.roles):
            raise ValueError(f"roles must be among {ROLES}, got {self.roles}")
        if self.roles.count("pair") not in (0, 2):
            raise ValueError("a candidate has no antipodal pair or exactly one (two 'pair' features)")

    @property
    def n_features(self) -> int:
        return len(self.roles)

    @property
    def n_hidden(self) -> int:
        """Hidden dimensions it uses: one per dedicated feature, one for the pair."""
        return self.roles.count("dedicated") + (1 if "pair" in self.roles else 0)

    @property
    def label(self) -> int:
        """The extra (last) feature's label code."""
        return _ROLE_LABEL[self.roles[-1]]


CANDIDATES: dict[int, tuple[Candidate, ...]] = {
    2: (
        Candidate("extra_dropped", ("dedicated", "dropped"), "W = [1, 0]: extra feature dropped"),
        Candidate("main_dropped", ("dropped", "dedicated"), "W = [0, 1]: feature 1 dropped"),
        Candidate("antipodal", ("pair", "pair"), "W = [1, -1]: antipodal pair"),
    ),
    3: (
        Candidate("extra_dropped", ("dedicated", "dedicated", "dropped"), "extra feature dropped"),
        Candidate("normal_dropped", ("dropped", "dedicated", "dedicated"), "a normal feature dropped"),
        Candidate("normals_antipodal", ("pair", "pair", "dedicated"),
                  "normal features antipodal, extra feature dedicated"),
        Candidate("extra_antipodal", ("pair", "dedicated", "pair"), "extra feature antipodal with a normal one"),
    ),
}
"""Candidates per number of features: 2 (2 -> 1) and 3 (3 -> 2), PAPER.md §3."""

HIDDEN = {2: 1, 3: 2}


def candidates(n_features: int) -> tuple[Candidate, ...]:
    if n_features not in CANDIDATES:
        raise ValueError(f"the §3 theory covers 2 -> 1 and 3 -> 2 (n_features 2 or 3), got {n_features}")
    return CANDIDATES[n_features]


# -- per-feature costs (unit importance) --------------------------------------------------------------------
def dropped_loss(p) -> np.ndarray:
    """E[(x - p/2)^2] = p/3 - p^2/4: a dropped feature predicted by its mean."""
    p = np.asarray(p, dtype=float)
    return p / 3 - p**2 / 4


def constant_prediction_loss(p, c) -> np.ndarray:
    """E[(x - c)^2] = p/3 - p c + c^2 for a feature predicted by the constant c (least at c = p/2)."""
    p, c = np.asarray(p, dtype=float), np.asarray(c, dtype=float)
    return p / 3 - p * c + c**2


def pair_relu_loss(p, b=0.0) -> np.ndarray:
    """Expected error of one feature of a ReLU antipodal pair, x' = ReLU(x_1 - x_2 + b), for 0 <= b <= 1.

    Cases: neither active, (1-p)^2, or only x_1 active, p(1-p): error b^2. Only x_2 active: error (b - x_2)^2
    while x_2 < b, b^3/3. Both active, p^2: with t = x_2 - b, error t^2 if x_1 > t else x_1^2, which
    integrates to b^3/3 + (1-b)^3/3 - (1-b)^4/6 (1/6 at b = 0: E[min(U, V)^2]).
    """
    p, b = np.asarray(p, dtype=float), np.asarray(b, dtype=float)
    q = 1 - p
    both = b**3 / 3 + (1 - b) ** 3 / 3 - (1 - b) ** 4 / 6
    return q * b**2 + p * q * b**3 / 3 + p**2 * both


def _pair_relu_loss_db(p: np.ndarray, b: np.ndarray) -> np.ndarray:
    q = 1 - p
    return 2 * q * b + p * q * b**2 + p**2 * (b**2 - (1 - b) ** 2 + 2 * (1 - b) ** 3 / 3)


def best_pair_bias(p) -> np.ndarray:
    """The bias b* in [0, 1/2] minimising :func:`pair_relu_loss` (it is convex in b there; d/db < 0 at 0 and
    > 0 at 1/2), by vectorised bisection. About p^2 / (6 (1 - p)) for small p."""
    p = np.asarray(p, dtype=float)
    # b* depends on p alone: solve once per distinct density, however large the (r, p) grid.
    q, inverse = np.unique(p, return_inverse=True)
    lo, hi = np.zeros_like(q), np.full_like(q, 0.5)
    for _ in range(60):
        mid = (lo + hi) / 2
        neg = _pair_relu_loss_db(q, mid) < 0
        lo, hi = np.where(neg, mid, lo), np.where(neg, hi, mid)
    return ((lo + hi) / 2)[inverse].reshape(p.shape)


def _check(activation: str, bias: str) -> None:
    if activation not in ("relu", "linear"):
        raise ValueError(f"activation must be relu or linear, got {activation!r}")
    if bias not in BIASES:
        raise ValueError(f"bias must be one of {BIASES}, got {bias!r}")


def role_loss(role: str, p, activation: str = "relu", bias: str = "paper") -> np.ndarray:
    """Expected error of one unit-importance feature in ``role`` at density ``p``."""
    _check(activation, bias)
    p = np.asarray(p, dtype=float)
    if role == "dedicated":
        return np.zeros_like(p)
    if role == "dropped" or activation == "linear":
        return dropped_loss(p)
    if role == "pair":
        return pair_relu_loss(p, best_pair_bias(p) if bias == "optimal" else 0.0)
    raise ValueError(f"role must be one of {ROLES}, got {role!r}")


def role_bias(role: str, p, activation: str = "relu", bias: str = "paper") -> np.ndarray:
    """The bias that feature role gets: 0 dedicated, p/2 dropped (and linear pair), 0 or b* ReLU pair."""
    _check(activation, bias)
    p = np.asarray(p, dtype=float)
    if role == "dedicated":
        return np.zeros_like(p)
    if role == "dropped" or activation == "linear":
        return p / 2
    return best_pair_bias(p) if bias == "optimal" else np.zeros_like(p)


# -- candidates --------------------------------------------------------------------------------------------
def importance(n_features: int, r: float) -> np.ndarray:
    """[1, ..., 1, r]: the extra feature last."""
    out = np.ones(n_features)
    out[-1] = r
    return out


def candidate_loss(candidate: Candidate, r, p, activation: str = "relu", bias: str = "paper") -> np.ndarray:
    """Closed-form expected loss (sum over features, the paper's normalisation) of ``candidate``."""
    r, p = np.broadcast_arrays(np.asarray(r, dtype=float), np.asarray(p, dtype=float))
    total = np.zeros(r.shape)
    for i, role in enumerate(candidate.roles):
        weight = r if i == candidate.n_features - 1 else 1.0
        total = total + weight * role_loss(role, p, activation, bias)
    return total


def candidate_losses(n_features: int, r, p, activation: str = "relu", bias: str = "paper") -> np.ndarray:
    """``[n_candidates, *broadcast(r, p).shape]`` expected losses of every candidate."""
    return np.stack([candidate_loss(c, r, p, activation, bias) for c in candidates(n_features)])


def candidate_network(candidate: Candidate, p: float, activation: str = "relu", bias: str = "paper",
                      n_hidden: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The network ``(W [m, n], b [n])`` of a candidate at density ``p``: dedicated features on their own
    basis vector, the pair on one shared basis vector with signs +1 / -1, dropped features 0."""
    m = candidate.n_hidden if n_hidden is None else n_hidden
    if m < candidate.n_hidden:
        raise ValueError(f"candidate {candidate.name} needs {candidate.n_hidden} hidden dimensions, got {m}")
    W = np.zeros((m, candidate.n_features))
    b = np.zeros(candidate.n_features)
    dim, pair_dim, sign = 0, None, 1.0
    for i, role in enumerate(candidate.roles):
        if role == "dedicated":
            W[dim, i] = 1.0
            dim += 1
        elif role == "pair":
            if pair_dim is None:
                pair_dim, dim = dim, dim + 1
            W[pair_dim, i] = sign
            sign = -sign
        b[i] = float(role_bias(role, p, activation, bias))
    return W, b


@dataclass(frozen=True)
class TheoryDiagram:
    """The theoretical phase diagram on a grid: per point the cheapest candidate and the extra feature's label."""

    losses: np.ndarray
    """``[n_candidates, *shape]`` closed-form losses (sum over features)."""
    best: np.ndarray
    """Index of the cheapest candidate per point."""
    labels: np.ndarray
    """Extra feature's label code (0 not_represented, 1 dedicated, 2 superposition) per point."""

    @property
    def best_loss(self) -> np.ndarray:
        return np.take_along_axis(self.losses, self.best[None], axis=0)[0]


def theory_diagram(n_features: int, r, p, activation: str = "relu", bias: str = "paper") -> TheoryDiagram:
    """Cheapest candidate at every (r, p) (broadcast); ties go to the candidate listed first."""
    losses = candidate_losses(n_features, r, p, activation, bias)
    best = np.argmin(losses, axis=0)
    codes = np.array([c.label for c in candidates(n_features)])
    return TheoryDiagram(losses=losses, best=best, labels=codes[best])


def theory_labels(n_features: int, r, p, activation: str = "relu", bias: str = "paper") -> np.ndarray:
    """Label code of the extra feature at every (r, p) (broadcast)."""
    return theory_diagram(n_features, r, p, activation, bias).labels


def near_boundary(n_features: int, r_grid: Sequence[float], p_grid: Sequence[float], activation: str = "relu",
                  bias: str = "paper", samples: int = 9) -> np.ndarray:
    """``[len(r_grid), len(p_grid)]`` bool: True where the theoretical label changes within one grid step.

    The box of ±1 grid step around each point (in log r and log p, clipped to p <= 1) is sampled on a
    ``samples x samples`` lattice; the point is near a boundary when any sample's label differs from its own.
    """
    lr, lp = np.log(np.asarray(r_grid, dtype=float)), np.log(np.asarray(p_grid, dtype=float))
    step_r = np.abs(np.diff(lr)).max() if lr.size > 1 else 0.0
    step_p = np.abs(np.diff(lp)).max() if lp.size > 1 else 0.0
    offsets = np.linspace(-1.0, 1.0, samples)
    R = np.exp(lr[:, None, None, None] + step_r * offsets[None, None, :, None])
    P = np.exp(np.minimum(lp[None, :, None, None] + step_p * offsets[None, None, None, :], 0.0))
    box = theory_labels(n_features, R, P, activation, bias)
    own = theory_labels(n_features, np.asarray(r_grid, dtype=float)[:, None], np.asarray(p_grid, dtype=float)[None, :],
                        activation, bias)
    return (box != own[:, :, None, None]).any(axis=(2, 3))


# -- checking against a network ----------------------------------------------------------------------------
def paper_loss(mean_loss, n_features: int):
    """The trainer's loss (mean over features) in the paper's normalisation (sum over features)."""
    return np.asarray(mean_loss, dtype=float) * n_features


def monte_carlo_loss(W: np.ndarray, b: np.ndarray, imp: np.ndarray, p: float, activation: str = "relu",
                     samples: int = 1_000_000, seed: int = 0) -> tuple[float, float]:
    """(mean, standard error) of Σ_i I_i (x_i - x'_i)^2 for the network ``W [m, n]``, ``b [n]`` on ``samples``
    draws of the §0 features: a naive estimate to check the closed forms against."""
    rng = np.random.default_rng(seed)
    n = W.shape[1]
    x = rng.random((samples, n)) * (rng.random((samples, n)) < p)
    pre = x @ W.T @ W + b
    out = np.maximum(pre, 0.0) if activation == "relu" else pre
    per_sample = ((x - out) ** 2 * imp).sum(axis=1)
    return float(per_sample.mean()), float(per_sample.std(ddof=1) / np.sqrt(samples))


def label_name(code: int) -> str:
    return LABELS[int(code)]


__all__ = [
    "BIASES", "CANDIDATES", "Candidate", "DEDICATED", "HIDDEN", "LABELS", "NOT_REPRESENTED", "ROLES",
    "SUPERPOSITION", "TheoryDiagram", "best_pair_bias", "candidate_loss", "candidate_losses", "candidate_network",
    "candidates", "constant_prediction_loss", "dropped_loss", "importance", "label_name", "monte_carlo_loss",
    "near_boundary", "pair_relu_loss", "paper_loss", "role_bias", "role_loss", "theory_diagram", "theory_labels",
]
