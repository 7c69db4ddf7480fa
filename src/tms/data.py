"""Synthetic data distributions (PAPER.md §0), by name: the registry behind ``RunConfig.data``.

A :class:`Distribution` draws ``[inst, batch, feat]`` batches from per-instance, per-feature densities
``[inst, feat]`` (the probability that a feature is non-zero) and an explicit ``torch.Generator``. Today's
member, ``independent``: x_i = 0 with probability 1 - p_i, otherwise x_i ~ U[0, 1], every feature and sample
independently. The eager engine trains on any member; the fast engine draws the members it lists itself
(:mod:`tms.engines`).

Batches are laid out ``[inst, batch, feat]`` so each instance's batch is a contiguous matrix and the model is
two batched matmuls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from .config import DATA
from .errors import ConfigError


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


@dataclass(frozen=True)
class Distribution:
    """A named data distribution."""

    name: str
    description: str
    sample: Callable[[Tensor, int, torch.Generator | None], Tensor]
    """``sample(density [inst, feat], batch_size, generator) -> x [inst, batch, feat]``."""


DISTRIBUTIONS: dict[str, Distribution] = {
    "independent": Distribution("independent", DATA["independent"], sample_features),
}


def get_distribution(name: str) -> Distribution:
    """The distribution called ``name``, or a ConfigError listing the known ones."""
    if name not in DISTRIBUTIONS:
        raise ConfigError(f"data must be one of {', '.join(DISTRIBUTIONS)}, got {name!r}")
    return DISTRIBUTIONS[name]
