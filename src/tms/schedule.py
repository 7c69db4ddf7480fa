"""The step-wise parts of a recipe, pure functions shared by the engines: the learning rate of each step
(:data:`tms.kinds.SCHEDULES`) and Liu, Liu & Gore 2025's decay of W (:attr:`tms.config.Recipe.gamma`).

Steps count from 1 (the first update is step 1), as Liu, Liu & Gore 2025's ``get_lr`` does with ``step + 1``:
a linear warm-up lr·s/w for s < w, then 'constant' stays at lr and 'cosine' decays from lr at s = w to
``lr_floor``·lr at s = steps along half a cosine.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .config import Recipe


def learning_rate(recipe: Recipe, step: int) -> float:
    """The learning rate of training step ``step`` (1 ≤ step ≤ steps)."""
    lr, warmup = recipe.lr, recipe.warmup_steps
    if step < warmup:
        return lr * step / warmup
    if recipe.schedule == "constant":
        return lr
    floor = recipe.lr_floor * lr
    progress = (step - warmup) / (recipe.steps - warmup)
    return floor + (lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def is_constant(recipe: Recipe) -> bool:
    """Whether every step has the learning rate ``recipe.lr`` (the paper's recipe)."""
    return recipe.schedule == "constant" and recipe.warmup_steps == 0


@torch.no_grad()
def gamma_decay_(W: Tensor, lr: float, gamma: float, eps: float) -> Tensor:
    """Liu, Liu & Gore 2025's decay of W ``[inst, hidden, feat]`` in place, before the step's Adam update (their
    adamw.py). γ >= 0 is plain decoupled decay, W ← W (1 − lr γ) (weak superposition: rare features decay away).
    γ < 0 moves each feature vector W_i (a column) along itself, W_i ← W_i + lr γ W_i (1 − 1/(‖W_i‖ + eps)): the
    factor lr γ (1 − 1/‖W_i‖) is negative for a norm above 1 and positive below, so every norm is pulled towards
    1 and every feature stays represented (strong superposition)."""
    if gamma >= 0:
        return W.mul_(1.0 - lr * gamma)
    # [inst, 1, feat]: ‖W_i‖ + eps, from the sum of squares (15x faster than vector_norm over the middle axis)
    norms = W.square().sum(dim=1, keepdim=True).sqrt_().add_(eps)
    return W.add_(W * (1.0 - 1.0 / norms), alpha=lr * gamma)
