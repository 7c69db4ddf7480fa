"""The toy model of PAPER.md §0, many instances at once.

W: ``[inst, hidden, feat]`` (column W[k, :, i] is feature i's direction in instance k), b: ``[inst, feat]``.
  h  = W x                       (einsum "ibf,ihf->ibh")
  x' = ReLU(W^T h + b)           (or without the ReLU for the linear model)
This file knows nothing about training.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .config import ACTIVATIONS, INITS
from .errors import ConfigError


def init_weights(
    n_instances: int,
    n_hidden: int,
    n_features: int,
    scheme: str = "paper",
    generator: torch.Generator | None = None,
    notebook_instances: int | None = None,
) -> Tensor:
    """Initial ``W [inst, hidden, feat]``.

    'paper': the companion notebook applies ``xavier_normal_`` to its ``[inst, feat, hidden]`` weight, whose
    fans are feat*hidden and inst*hidden, so std = sqrt(2 / (m (n + instances))) and depends on how many
    instances train together. ``notebook_instances`` is that count (default ``n_instances``): the notebook
    trains one instance per setting, so a run with restarts passes its number of settings and each restart
    is initialised as one notebook run. 'per_model': Xavier-normal on each ``[hidden, feat]`` matrix alone,
    std = sqrt(2 / (m + n)).
    """
    if scheme == "paper":
        k = n_instances if notebook_instances is None else notebook_instances
        std = math.sqrt(2.0 / (n_hidden * (n_features + k)))
    elif scheme == "per_model":
        std = math.sqrt(2.0 / (n_hidden + n_features))
    else:
        raise ConfigError(f"init must be one of {', '.join(INITS)}, got {scheme!r}")
    return torch.randn((n_instances, n_hidden, n_features), generator=generator) * std


def forward(W: Tensor, b: Tensor, x: Tensor, activation: str = "relu") -> Tensor:
    """x' for a batch ``x [inst, batch, feat]``."""
    h = torch.einsum("ibf,ihf->ibh", x, W)
    out = torch.einsum("ibh,ihf->ibf", h, W) + b[:, None, :]
    if activation == "relu":
        return torch.relu(out)
    if activation == "linear":
        return out
    raise ConfigError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")


def weighted_mse(x_hat: Tensor, x: Tensor, importance: Tensor) -> Tensor:
    """Per-instance loss ``[inst]``: mean over batch and features of I_i (x_i - x'_i)^2 (PAPER.md §0)."""
    return (importance[:, None, :] * (x - x_hat) ** 2).mean(dim=(1, 2))


class ToyModel(nn.Module):
    """A batch of toy models as an ``nn.Module``, for users who want autograd and their own loop."""

    def __init__(self, W: Tensor, b: Tensor, activation: str = "relu"):
        super().__init__()
        if W.ndim != 3 or b.ndim != 2 or b.shape != (W.shape[0], W.shape[2]):
            raise ConfigError(f"W must be [inst, hidden, feat] and b [inst, feat]; got {tuple(W.shape)}, {tuple(b.shape)}")
        if activation not in ACTIVATIONS:
            raise ConfigError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        self.W = nn.Parameter(W.clone())
        self.b = nn.Parameter(b.clone())
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        return forward(self.W, self.b, x, self.activation)
