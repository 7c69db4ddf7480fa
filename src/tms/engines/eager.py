"""The reference engine: the companion notebook's recipe in plain eager PyTorch (autograd + AdamW)."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ..config import Recipe
from ..data import sample_features
from ..model import forward, weighted_mse


def train_chunk(
    W: Tensor,
    b: Tensor,
    importance: Tensor,
    density: Tensor,
    activation: str,
    recipe: Recipe,
    generator: torch.Generator,
    on_log: Callable[[int, Tensor], None],
    on_steps: Callable[[int], None],
) -> None:
    Wp = torch.nn.Parameter(W.clone())
    bp = torch.nn.Parameter(b.clone())
    opt = torch.optim.AdamW(
        [Wp, bp], lr=recipe.lr, betas=recipe.betas, eps=recipe.eps, weight_decay=recipe.weight_decay
    )
    for step in range(1, recipe.steps + 1):
        x = sample_features(density, recipe.batch_size, generator)
        losses = weighted_mse(forward(Wp, bp, x, activation), x, importance)
        opt.zero_grad(set_to_none=True)
        # Sum over instances: each instance's gradient is that of its own mean loss (PAPER.md §0).
        losses.sum().backward()
        opt.step()
        if step % recipe.log_every == 0 or step == recipe.steps:
            on_log(step, losses.detach())
        on_steps(1)
    with torch.no_grad():
        W.copy_(Wp)
        b.copy_(bp)
