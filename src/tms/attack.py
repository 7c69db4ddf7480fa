"""The analytic attack of PAPER.md §6 on a tied model x' = ReLU(WᵀW x + b) (pure functions, no training).

For each feature i the input is moved by δ_i = λ u_i, u_i = (WᵀW)_i / ‖(WᵀW)_i‖: the direction that raises
output i fastest. The output moves by WᵀW δ_i, so feature j's output shifts by λ (WᵀW)_j · u_i; in a model
without superposition (WᵀW diagonal) only output i moves. The attack kept is the feature whose perturbation
raises the loss most; λ is a fraction (:data:`SCALE`) of the mean L2 norm of the inputs. Gradient attacks fail
on these models: the ReLUs sit at zero most of the time.

The loss is the training loss (PAPER.md §0) against the clean input, x' of the perturbed input compared with x.
A model without superposition (W = [I_m | 0], b = 0) loses exactly λ² / n to any attack whose shifted output
stays positive: :func:`orthogonal_increase`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

SCALE = 0.1
"""λ = 0.1 × the mean input L2 norm (PAPER.md §6)."""


def directions(W: Tensor) -> Tensor:
    """``[n, n]``: row i is u_i = (WᵀW)_i / ‖(WᵀW)_i‖ (a zero row where feature i is not represented at all)."""
    G = W.double().T @ W.double()
    return G / G.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _loss(out: Tensor, x: Tensor, importance: Tensor) -> Tensor:
    return (importance * (x - out) ** 2).mean(dim=(-2, -1))


def attacked_losses(W: Tensor, b: Tensor, x: Tensor, importance: Tensor, lam: float, model: str = "relu",
                    chunk_elements: int = 1 << 22) -> Tensor:
    """``[n]``: the loss on ``x [batch, n]`` with every sample moved by λ u_i, for each feature i, in float64.

    With the clean pre-activation z, output j of sample b under attack i is ReLU(z_bj + s_ij), s_i = λ WᵀW u_i.
    For the ReLU model an element with z_bj ≤ −max(0, max_i s_ij) is zero with and without every attack, so only
    the other elements (for sparse inputs, a few per sample) are computed: the clean loss plus each attack's
    change on them, exactly."""
    Wd, xd, imp = W.double(), x.double(), importance.double()
    G = Wd.T @ Wd
    z = xd @ G + b.double()  # G symmetric
    shifts = lam * directions(W) @ G  # [n attacks, n outputs]
    batch, n = xd.shape
    if model == "relu":
        floor = -shifts.max(dim=0).values.clamp_min(0.0)  # [n]
        b_idx, j_idx = (z > floor).nonzero(as_tuple=True)
    else:
        b_idx, j_idx = (t.flatten() for t in torch.meshgrid(torch.arange(batch), torch.arange(n), indexing="ij"))
    zk, xk, ik = z[b_idx, j_idx], xd[b_idx, j_idx], imp[j_idx]

    def err(pre: Tensor) -> Tensor:
        return ik * (xk - (torch.relu(pre) if model == "relu" else pre)) ** 2

    out_clean = (imp * (xd - (torch.relu(z) if model == "relu" else z)) ** 2).sum()
    base = err(zk).sum()
    step = max(1, chunk_elements // max(1, zk.numel()))
    changes = torch.cat([err(zk[None] + shifts[lo:lo + step, j_idx]).sum(dim=1) for lo in range(0, n, step)])
    return (out_clean + changes - base) / (batch * n)


@dataclass(frozen=True)
class Attack:
    """The worst of the per-feature attacks on one model and one sample of inputs."""

    clean: float
    """Loss without the attack."""
    attacked: float
    """Loss with the worst per-feature perturbation."""
    feature: int
    """The feature whose direction that perturbation follows."""
    lam: float
    """Its L2 norm: SCALE × the mean input norm."""

    @property
    def increase(self) -> float:
        return self.attacked - self.clean


def attack(W: Tensor, b: Tensor, x: Tensor, importance: Tensor, model: str = "relu", scale: float = SCALE) -> Attack:
    """The analytic attack on one model (``W [m, n]``, ``b [n]``) over the inputs ``x [batch, n]``."""
    lam = scale * float(x.double().norm(dim=1).mean())
    Wd, bd, xd = W.double(), b.double(), x.double()
    pre = xd @ (Wd.T @ Wd) + bd
    clean = float(_loss(torch.relu(pre) if model == "relu" else pre, xd, importance.double()))
    losses = attacked_losses(W, b, x, importance, lam, model)
    k = int(torch.argmax(losses))
    return Attack(clean=clean, attacked=float(losses[k]), feature=k, lam=lam)


def orthogonal_increase(lam: float, n: int, importance: float = 1.0) -> float:
    """The loss increase of a model without superposition (W = [I_m | 0], b = 0) under an attack of norm λ on a
    represented feature of importance I: only that output moves, by λ, so the loss (a mean over the n features)
    grows by I λ² / n."""
    return importance * lam * lam / n
