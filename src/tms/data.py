"""Synthetic sparse features (PAPER.md §0): x_i = 0 with probability 1 - p_i, otherwise x_i ~ U[0, 1].

Batches are laid out ``[inst, batch, feat]`` so each instance's batch is a contiguous matrix and the model
is two batched matmuls.
"""

from __future__ import annotations

import torch
from torch import Tensor


def sample_features(density: Tensor, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
    """Draw ``[inst, batch, feat]`` features; ``density`` is ``[inst, feat]`` (probability non-zero).

    Two uniform draws per element, as in the paper's companion notebook: one decides whether the feature is
    active, the other is its value.
    """
    inst, feat = density.shape
    shape = (inst, batch_size, feat)
    active = torch.rand(shape, generator=generator, device=density.device) < density[:, None, :]
    values = torch.rand(shape, generator=generator, device=density.device)
    return values * active


def sample_features_one_draw(density: Tensor, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
    """Same distribution as :func:`sample_features` from one uniform draw per element.

    With u ~ U[0, 1): the feature is active when u < p, and then u / p is again U[0, 1) and independent of
    the event, so x = (u / p) * [u < p] has exactly the paper's distribution at half the random numbers.
    """
    inst, feat = density.shape
    u = torch.rand((inst, batch_size, feat), generator=generator, device=density.device)
    p = density[:, None, :]
    return torch.where(u < p, u / p, torch.zeros((), device=u.device))
