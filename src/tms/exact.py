"""The exact expected loss of a small tied ReLU model x' = ReLU(WᵀW x + b) (PAPER.md §0; BEYOND.md, LLC and its
closing paragraph), differentiable in ``W`` and ``b`` so that it can be minimised (L-BFGS) and its critical
points checked.

Two input distributions:

- :func:`expected_loss`: the paper's (§0): feature i is 0 with probability 1 − p_i, else U[0, 1], independently.
  We condition on the set A of active features (probability Π_{i∈A} p_i Π_{i∉A} (1 − p_i)) and integrate each
  pattern's loss over x_A ~ U[0, 1]^|A|. The loss is a sum over output features j, and output j depends on the
  input only through one ReLU, z_j = Σ_{i∈A} (WᵀW)_{ji} x_i + b_j, so each term is a quadratic polynomial on the
  part of the cube where z_j > 0 (one half-space) and a quadratic (the target squared) elsewhere:

  * 0 active: Σ_j I_j ReLU(b_j)²;
  * 1 active: an integral over [0, 1] split at the kink μ = −b_j / a_j, in closed form (:func:`_one_active`);
  * 2 active: an integral over the unit square cut by the kink line; integrating over u in closed form leaves a
    piecewise cubic in v, split where the kink line leaves the square through u = 0 or u = 1, which 3-point
    Gauss–Legendre integrates exactly on each piece (:func:`_two_active`);
  * 3 or more active: randomised quasi-Monte Carlo (scrambled Sobol points, scipy), the standard error from the
    spread of independent scramblings (:func:`_many_active`). At the sparse densities of the paper (p ≤ 0.05)
    these patterns carry a probability of order 10 p³, so their error is tiny.

- :func:`single_feature_loss`: the high-sparsity limit of Chen et al. 2023 (the LLC setting): x = μ e_i with i
  uniform in 1..c and μ ~ U[0, 1]; its loss is exactly the mean of the 1-active terms.

Normalisation as in the paper (§0) and :mod:`tms.theory`: a **sum** over features (the trainer's loss is the mean
over features, this divided by n). Everything is computed in float64; ``W`` is ``[hidden, feat]`` (one model).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from tms.errors import ConfigError

MAX_FEATURES = 12
"""Every active pattern is enumerated (2^n of them): exact losses are for small models."""
SAFE = 1e-12
"""A kink slope smaller than this is replaced by it, so that −b/a stays finite (and its gradient too); the
integral then moves by O(SAFE)."""
ERROR_SIGMAS = 3.0
"""The error bound returned is this many standard errors of the quasi-Monte Carlo part."""
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(3)  # exact for polynomials of degree ≤ 5 on a piece


@dataclass(frozen=True)
class ExactLoss:
    """An expected loss: ``value`` (a differentiable float64 scalar), ``error`` (a bound: :data:`ERROR_SIGMAS`
    standard errors of the quasi-Monte Carlo part; the rest is exact to rounding), ``stderr`` and each part's
    contribution, keyed by the number of active features (``"3+"`` for the quasi-Monte Carlo part)."""

    value: Tensor
    error: float
    stderr: float
    parts: dict[str, float] = field(default_factory=dict)

    def __float__(self) -> float:
        return float(self.value.detach())


def _check(W: Tensor, b: Tensor, importance, density=None) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    if W.dim() != 2:
        raise ConfigError(f"W must be [hidden, feat] (one model), got shape {tuple(W.shape)}")
    n = W.shape[1]
    if n > MAX_FEATURES:
        raise ConfigError(f"W has {n} features; the exact loss enumerates 2^n active patterns: at most {MAX_FEATURES}")
    if b.shape != (n,):
        raise ConfigError(f"b must have shape ({n},) to match W's {n} features, got {tuple(b.shape)}")
    imp = torch.ones(n, dtype=torch.float64) if importance is None else torch.as_tensor(importance, dtype=torch.float64)
    if imp.shape != (n,) or bool((imp < 0).any()):
        raise ConfigError(f"importance must be {n} non-negative numbers, got {imp.tolist()}")
    p = None
    if density is not None:
        p = torch.as_tensor(density, dtype=torch.float64)
        if p.dim() == 0:
            p = p.expand(n).clone()
        if p.shape != (n,) or bool(((p < 0) | (p > 1)).any()):
            raise ConfigError(f"density must be one number or {n} numbers in [0, 1], got {p.tolist()}")
    return W.to(torch.float64), b.to(torch.float64), imp, p


def _safe(a: Tensor) -> Tensor:
    """``a`` with entries smaller than :data:`SAFE` in size replaced by ±SAFE (sign kept, 0 → +SAFE)."""
    return torch.where(a.abs() < SAFE, torch.where(a < 0, -SAFE, SAFE).to(a.dtype), a)


def _active_interval(a: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """Where a·t + c > 0 within t ∈ [0, 1]: ``(lo, hi)``, elementwise (lo = hi when nowhere)."""
    a = _safe(a)
    kink = (-c / a).clamp(0.0, 1.0)
    lo = torch.where(a > 0, kink, torch.zeros_like(kink))
    hi = torch.where(a > 0, torch.ones_like(kink), kink)
    return lo, hi


def _one_active(G: Tensor, b: Tensor, imp: Tensor) -> Tensor:
    """``[n]``: the loss given that only feature i is active, x_i = μ ~ U[0, 1], for each i.

    Output j has z_j = a μ + b_j with a = G_ji and target t μ (t = 1 for j = i): its error is t²μ² where z_j ≤ 0
    and (tμ − z_j)² = t²μ² + (a² − 2ta)μ² + 2b(a − t)μ + b² where z_j > 0; integrate the polynomial on the
    active interval in closed form."""
    a = G  # [out j, active i]
    c = b[:, None].expand_as(a)
    t = torch.eye(G.shape[0], dtype=G.dtype)
    lo, hi = _active_interval(a, c)
    c2, c1, c0 = a * a - 2 * t * a, 2 * c * (a - t), c * c
    inside = c2 * (hi ** 3 - lo ** 3) / 3 + c1 * (hi ** 2 - lo ** 2) / 2 + c0 * (hi - lo)
    return ((t / 3 + inside) * imp[:, None]).sum(0)


def _two_active(G: Tensor, b: Tensor, imp: Tensor) -> tuple[Tensor, list[tuple[int, int]]]:
    """``[pairs]``: the loss given that exactly features i < k are active, u = x_i, v = x_k ~ U[0, 1]², for each pair.

    Output j has z = αu + βv + b_j (α = G_ji, β = G_jk) and target u (j = i), v (j = k) or 0. Where z > 0 the
    error minus the target squared is a quadratic q(u, v); its integral over u ∈ [lo(v), hi(v)] is a cubic in v
    on each piece of [0, 1] between the v where the kink line crosses u = 0 and u = 1, integrated exactly by
    3-point Gauss–Legendre per piece."""
    n = G.shape[0]
    pairs = list(itertools.combinations(range(n), 2))
    i, k = torch.tensor([p[0] for p in pairs]), torch.tensor([p[1] for p in pairs])
    alpha, beta = G[:, i].T, G[:, k].T  # [pair, out j]
    c = b[None, :].expand_as(alpha)
    j = torch.arange(n)
    ti, tk = (j[None, :] == i[:, None]).to(G.dtype), (j[None, :] == k[:, None]).to(G.dtype)
    cuu, cvv = alpha ** 2 - 2 * alpha * ti, beta ** 2 - 2 * beta * tk
    cuv = 2 * alpha * beta - 2 * beta * ti - 2 * alpha * tk
    cu, cv, c0 = 2 * c * (alpha - ti), 2 * c * (beta - tk), c * c
    sb = _safe(beta)
    cuts = torch.stack([(-c / sb).clamp(0, 1), ((-alpha - c) / sb).clamp(0, 1)], -1).sort(-1).values
    knots = torch.cat([torch.zeros_like(cuts[..., :1]), cuts, torch.ones_like(cuts[..., :1])], -1)  # [pair, j, 4]
    start, width = knots[..., :-1], knots[..., 1:] - knots[..., :-1]  # [pair, j, piece]
    x = torch.tensor((_GL_NODES + 1) / 2, dtype=G.dtype)
    w = torch.tensor(_GL_WEIGHTS / 2, dtype=G.dtype)
    v = start[..., None] + width[..., None] * x  # [pair, j, piece, node]
    e = lambda t: t[..., None, None]  # noqa: E731 - broadcast a [pair, j] coefficient over pieces and nodes
    lo, hi = _active_interval(e(alpha).expand_as(v), e(beta) * v + e(c))
    inner = (e(cuu) * (hi ** 3 - lo ** 3) / 3 + (e(cuv) * v + e(cu)) * (hi ** 2 - lo ** 2) / 2
             + (e(cvv) * v * v + e(cv) * v + e(c0)) * (hi - lo))
    integral = (inner * w * width[..., None]).sum((-1, -2))  # [pair, j]
    return ((integral + (ti + tk) / 3) * imp).sum(-1), pairs


def _patterns(n: int, smallest: int) -> Tensor:
    """``[patterns, n]`` 0/1 masks of every set of at least ``smallest`` active features."""
    rows = [[1.0 if f in s else 0.0 for f in range(n)] for size in range(smallest, n + 1)
            for s in itertools.combinations(range(n), size)]
    return torch.tensor(rows, dtype=torch.float64).reshape(-1, n)


def _pattern_probability(masks: Tensor, p: Tensor) -> Tensor:
    return torch.where(masks > 0, p, 1 - p).prod(-1)


def sobol_points(n: int, samples: int, replicates: int, seed: int) -> Tensor:
    """``[replicates, samples, n]``: independently scrambled Sobol points in [0, 1)^n (scipy), from ``seed``.
    ``samples`` should be a power of 2 (Sobol's balance properties)."""
    from scipy.stats import qmc

    rng = np.random.default_rng(seed)
    # 64 bits: the default 30 leaves every point on a 2^-30 grid, which biases each mean by about 1e-9
    pts = [qmc.Sobol(d=n, scramble=True, bits=64, seed=rng).random(samples) for _ in range(replicates)]
    return torch.tensor(np.stack(pts), dtype=torch.float64)


def _many_active(G: Tensor, b: Tensor, imp: Tensor, p: Tensor, points: Tensor) -> tuple[Tensor, Tensor]:
    """Σ over patterns with ≥ 3 active features of P(pattern) · E[loss | pattern] by randomised QMC: the mean over
    replicates and its standard error. Every pattern uses the same points (its own coordinates of them)."""
    n = G.shape[0]
    masks = _patterns(n, 3)
    if masks.shape[0] == 0:
        zero = G.new_zeros(())
        return zero, zero.detach()
    prob = _pattern_probability(masks, p)  # [pattern]
    x = masks[None, :, None, :] * points[:, None, :, :]  # [rep, pattern, sample, feat]
    out = torch.relu(torch.einsum("rpsi,ij->rpsj", x, G) + b)
    err = ((x - out) ** 2 * imp).sum(-1).mean(-1)  # [rep, pattern]
    per_rep = (err * prob).sum(-1)
    reps = per_rep.shape[0]
    stderr = per_rep.detach().std(unbiased=True) / math.sqrt(reps) if reps > 1 else per_rep.new_tensor(math.inf)
    return per_rep.mean(), stderr


def expected_loss(W: Tensor, b: Tensor, density, importance=None, *, samples: int = 4096, replicates: int = 8,
                  seed: int = 0, points: Tensor | None = None) -> ExactLoss:
    """E Σ_j I_j (x_j − ReLU(WᵀW x + b)_j)² for ``W [hidden, feat]``, ``b [feat]`` under the paper's distribution
    (feature j active with probability ``density`` (one number or one per feature), then U[0, 1]).

    The 0-, 1- and 2-active patterns are integrated exactly; the rest by randomised QMC with ``samples`` Sobol
    points × ``replicates`` scramblings from ``seed`` (or the given ``points``, ``[replicates, samples, feat]``,
    from :func:`sobol_points`: the same points make the loss a smooth deterministic function for an optimiser)."""
    W, b, imp, p = _check(W, b, importance, density)
    n = W.shape[1]
    G = torch.einsum("hi,hj->ij", W, W)
    q = 1 - p
    none = q.prod()
    one_prob = torch.stack([p[i] * torch.cat([q[:i], q[i + 1:]]).prod() for i in range(n)])
    parts = {"0": none * (imp * torch.relu(b) ** 2).sum(), "1": (one_prob * _one_active(G, b, imp)).sum()}
    stderr = torch.zeros((), dtype=torch.float64)
    if n >= 2:
        two, pairs = _two_active(G, b, imp)
        masks = torch.tensor([[1.0 if f in pr else 0.0 for f in range(n)] for pr in pairs], dtype=torch.float64)
        parts["2"] = (_pattern_probability(masks, p) * two).sum()
    if n >= 3:
        if points is None:
            points = sobol_points(n, samples, replicates, seed)
        parts["3+"], stderr = _many_active(G, b, imp, p, points)
    value = sum(parts.values())
    se = float(stderr)
    return ExactLoss(value, ERROR_SIGMAS * se, se, {k: float(v.detach()) for k, v in parts.items()})


def single_feature_loss(W: Tensor, b: Tensor, importance=None) -> Tensor:
    """The high-sparsity limit (Chen et al. 2023; BEYOND.md LLC): x = μ e_i, i uniform in 1..c, μ ~ U[0, 1];
    E Σ_j I_j (x_j − ReLU(WᵀW x + b)_j)², exact (a differentiable float64 scalar)."""
    W, b, imp, _ = _check(W, b, importance)
    G = torch.einsum("hi,hj->ij", W, W)
    return _one_active(G, b, imp).mean()


def monte_carlo_loss(W: Tensor, b: Tensor, density, importance=None, *, samples: int = 200_000,
                     generator: torch.Generator | None = None) -> tuple[float, float]:
    """(mean, standard error) of the same loss by plain Monte Carlo (the naive check of :func:`expected_loss`)."""
    W, b, imp, p = _check(W, b, importance, density)
    n = W.shape[1]
    active = torch.rand(samples, n, generator=generator, dtype=torch.float64) < p
    x = torch.rand(samples, n, generator=generator, dtype=torch.float64) * active
    out = torch.relu(x @ (W.T @ W) + b)
    per = ((x - out) ** 2 * imp).sum(-1)
    return float(per.mean()), float(per.std() / math.sqrt(samples))


# --- The k-gon critical points of Chen et al. 2023 (BEYOND.md, LLC) -------------------------------------------------

TABLE_A1 = {4: (1.0, 0.0), 5: (1.17046, -0.28230), 6: (1.32053, -0.61814)}
"""Chen et al. 2023, Table A.1: (l*, b*) of the regular k-gon critical points at c = 6 (high-sparsity limit)."""
KGON_LOSSES = {"6": 0.04819, "5+": 0.06180, "5": 0.06874, "4+": 0.10417, "4": 0.11111}
"""BEYOND.md LLC: their losses at c = 6 (the 4-gon with both zero columns' biases negative computed there). A
"+" per zero column whose bias is positive (1/(2c)): "4+" has one, "4++" both (0.09722, not in the spec)."""
NEGATIVE_BIAS = -0.5
"""The bias of a zero column that is off: any negative value gives the same loss and a zero gradient."""


def parse_kgon(name: str) -> tuple[int, int]:
    """``"5+"`` → (5, 1): the polygon's size and how many zero columns have a positive bias."""
    k = name.rstrip("+")
    if not k.isdigit() or int(k) < 2:
        raise ConfigError(f"k-gon name must be a number ≥ 2 followed by '+' per positive zero column, got {name!r}")
    return int(k), len(name) - len(k)


def kgon(k: int, c: int = 6, length: float | None = None, bias: float | None = None,
         positive: int = 0) -> tuple[Tensor, Tensor]:
    """``(W [2, c], b [c])``: k columns a regular k-gon of ``length`` (the first along the x axis) with ``bias``
    (Table A.1's l*, b* by default), the other c − k columns zero, ``positive`` of them with the bias 1/(2c) that
    makes them critical (their mean prediction), the rest :data:`NEGATIVE_BIAS` (off)."""
    if not 2 <= k <= c:
        raise ConfigError(f"k must be in 2..c = {c}, got {k}")
    if not 0 <= positive <= c - k:
        raise ConfigError(f"positive must be in 0..{c - k} (the zero columns), got {positive}")
    if length is None or bias is None:
        if k not in TABLE_A1:
            raise ConfigError(f"Table A.1 gives l*, b* for k in {sorted(TABLE_A1)}; pass length and bias for k = {k}")
        length = TABLE_A1[k][0] if length is None else length
        bias = TABLE_A1[k][1] if bias is None else bias
    angle = 2 * math.pi * torch.arange(k, dtype=torch.float64) / k
    W = torch.zeros(2, c, dtype=torch.float64)
    W[0, :k], W[1, :k] = length * torch.cos(angle), length * torch.sin(angle)
    b = torch.full((c,), NEGATIVE_BIAS, dtype=torch.float64)
    b[:k] = bias
    b[k:k + positive] = 1 / (2 * c)
    return W, b


@dataclass(frozen=True)
class KgonCritical:
    """A k-gon critical point found by minimising the exact high-sparsity loss over its length and bias."""

    name: str
    length: float
    bias: float
    loss: float
    grad_norm: float
    """‖∇L‖ over every entry of W and b (not only l and b): small means critical in the full parameter space."""


def loss_gradient_norm(W: Tensor, b: Tensor) -> float:
    """‖∇_{W, b} L‖ of :func:`single_feature_loss` at (W, b)."""
    W, b = W.detach().clone().requires_grad_(True), b.detach().clone().requires_grad_(True)
    gW, gb = torch.autograd.grad(single_feature_loss(W, b), (W, b))
    return float(torch.cat([gW.flatten(), gb]).norm())


def kgon_critical(name: str, c: int = 6) -> KgonCritical:
    """The k-gon's l*, b* by L-BFGS on the exact loss over (l, b) from Table A.1 (or (1, 0)), its loss and the
    full gradient norm there."""
    k, positive = parse_kgon(name)
    l0, b0 = TABLE_A1.get(k, (1.0, 0.0))
    theta = torch.tensor([l0, b0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([theta], lr=1, max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = single_feature_loss(*_kgon_of(theta, k, c, positive))
        loss.backward()
        return loss

    opt.step(closure)
    W, b = (t.detach() for t in _kgon_of(theta, k, c, positive))
    l, bias = theta.detach().tolist()
    return KgonCritical(name, l, bias, float(single_feature_loss(W, b)),
                        loss_gradient_norm(W, b))


def _kgon_of(theta: Tensor, k: int, c: int, positive: int) -> tuple[Tensor, Tensor]:
    """The k-gon with length θ₀ and bias θ₁, differentiable in θ."""
    W, b = kgon(k, c, 1.0, 0.0, positive)
    onk = (torch.arange(c) < k).to(torch.float64)
    return W * (1 + (theta[0] - 1) * onk), b + theta[1] * onk


# --- Minimising the exact loss (§4 non-uniform: each geometry's loss-optimal curve) ---------------------------------

@dataclass(frozen=True)
class Minimum:
    """Where L-BFGS on :func:`expected_loss` stopped: the weights, the loss and its error bound, the largest
    gradient entry over the free parameters and the number of loss evaluations."""

    W: Tensor
    b: Tensor
    loss: float
    error: float
    grad_max: float
    evaluations: int


def minimise(W: Tensor, b: Tensor, density, importance=None, *, frozen: tuple[int, ...] = (),
             points: Tensor | None = None, samples: int = 1024, replicates: int = 4, seed: int = 0,
             tolerance: float = 1e-8, max_iter: int = 1000) -> Minimum:
    """Minimise :func:`expected_loss` from ``(W, b)`` by L-BFGS (strong Wolfe line search) until every gradient
    entry is below ``tolerance``. The features in ``frozen`` keep their column of W and their bias (a feature held
    dropped). The quasi-Monte Carlo points are fixed for the whole run (``points`` or drawn from ``seed``), so the
    objective is one smooth deterministic function."""
    W, b, _, _ = _check(W, b, importance, density)
    n = W.shape[1]
    if points is None and n >= 3:
        points = sobol_points(n, samples, replicates, seed)
    free = torch.tensor([f not in frozen for f in range(n)])
    theta = torch.cat([W[:, free].flatten(), b[free]]).clone().requires_grad_(True)
    opt = torch.optim.LBFGS([theta], lr=1, max_iter=max_iter, max_eval=2 * max_iter, tolerance_grad=tolerance,
                            tolerance_change=1e-16, history_size=20, line_search_fn="strong_wolfe")
    count = [0]

    def unpack(t: Tensor) -> tuple[Tensor, Tensor]:
        k = W.shape[0] * int(free.sum())
        Wt = W.clone()
        Wt[:, free] = t[:k].reshape(W.shape[0], -1)
        bt = b.clone()
        bt[free] = t[k:]
        return Wt, bt

    def closure() -> Tensor:
        opt.zero_grad()
        count[0] += 1
        loss = expected_loss(*unpack(theta), density, importance, points=points).value
        loss.backward()
        return loss

    opt.step(closure)
    Wt, bt = (x.detach() for x in unpack(theta.detach()))
    t = theta.detach().clone().requires_grad_(True)
    final = expected_loss(*unpack(t), density, importance, points=points)
    (grad,) = torch.autograd.grad(final.value, t)
    return Minimum(Wt, bt, float(final), final.error, float(grad.abs().max()), count[0])
