"""The toy models of PAPER.md §0, many instances at once, by family: the registry behind ``RunConfig.model``.

Tied families (``relu``, ``linear``, ``hidden-relu``) have W ``[inst, hidden, feat]`` (column W[k, :, i] is
feature i's direction in instance k) and b ``[inst, feat]``:

  h  = W x                       (einsum "ibf,ihf->ibh"; ``hidden-relu``: ReLU(W x), PAPER.md §7)
  x' = ReLU(Wᵀ h + b)            (``relu``, ``hidden-relu``; ``linear`` leaves the ReLU out)

A :class:`Family` names its parameters and their shapes, initialises them and computes the output; the loss is
the importance-weighted squared error against the family's target (x itself for both tied families). This
file knows nothing about training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from .errors import ConfigError
from .kinds import INITS, MODELS, Entry

Params = dict[str, Tensor]
"""A family's parameters by name, each with a leading instance axis."""
TIED = ("relu", "linear", "hidden-relu")
"""The tied families: one W [inst, m, n] and b [inst, n]."""


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
    std = sqrt(2 / (m + n)). 'normal': std = 1, as Roe & Goldstein 2025's code (randn(2, 100)), b N(0, 1) too.
    'scaling': std = 1/sqrt(m), as Liu, Liu & Gore 2025's code (randn(n, m)/sqrt(m));
    their b is N(0, 1) too (:func:`_tied_init`).
    """
    if scheme == "paper":
        k = n_instances if notebook_instances is None else notebook_instances
        std = math.sqrt(2.0 / (n_hidden * (n_features + k)))
    elif scheme == "per_model":
        std = math.sqrt(2.0 / (n_hidden + n_features))
    elif scheme == "scaling":
        std = 1.0 / math.sqrt(n_hidden)
    elif scheme == "normal":
        std = 1.0
    else:
        raise INITS.error(scheme)
    return torch.randn((n_instances, n_hidden, n_features), generator=generator) * std


def forward(W: Tensor, b: Tensor, x: Tensor, model: str = "relu") -> Tensor:
    """x' of a tied family for a batch ``x [inst, batch, feat]``."""
    if model not in TIED:
        raise ConfigError(f"model must be one of {', '.join(TIED)}, got {model!r}")
    h = torch.einsum("ibf,ihf->ibh", x, W)
    if model == "hidden-relu":
        h = torch.relu(h)
    out = torch.einsum("ibh,ihf->ibf", h, W) + b[:, None, :]
    return out if model == "linear" else torch.relu(out)


def weighted_mse(x_hat: Tensor, x: Tensor, importance: Tensor) -> Tensor:
    """Per-instance loss ``[inst]``: mean over batch and features of I_i (x_i - x'_i)^2 (PAPER.md §0)."""
    return (importance[:, None, :] * (x - x_hat) ** 2).mean(dim=(1, 2))


@dataclass(frozen=True)
class Family:
    """A model family: its parameters, their initialisation, and its output (its label and description are its
    :data:`tms.kinds.MODELS` entry)."""

    name: str
    shapes: Callable[[int, int, int], dict[str, tuple[int, ...]]]
    """``shapes(inst, m, n)``: every parameter's shape, in storage order."""
    init: Callable[[int, int, int, str, torch.Generator, int], Params]
    """``init(inst, m, n, scheme, generator, notebook_instances)``: parameters at step 0."""
    forward: Callable[[Params, Tensor], Tensor]
    """``forward(params, x [inst, batch, feat])``: the output ``[inst, batch, feat]``."""
    target: Callable[[Tensor], Tensor] = lambda x: x
    """What the output is trained to reproduce, from the input."""

    @property
    def entry(self) -> Entry:
        """The family's name, label and description."""
        return MODELS[self.name]

    def loss(self, params: Params, x: Tensor, importance: Tensor) -> Tensor:
        """Per-instance loss ``[inst]`` on the batch ``x`` (PAPER.md §0)."""
        return weighted_mse(self.forward(params, x), self.target(x), importance)


def _tied_shapes(inst: int, m: int, n: int) -> dict[str, tuple[int, ...]]:
    return {"W": (inst, m, n), "b": (inst, n)}


def _tied_init(inst: int, m: int, n: int, scheme: str, generator: torch.Generator, notebook: int) -> Params:
    # b = 0 at the start (PAPER.md §0); N(0, 1) in Liu, Liu & Gore 2025's and Roe & Goldstein 2025's code (inits
    # 'scaling' and 'normal'), drawn after W
    W = init_weights(inst, m, n, scheme, generator, notebook)
    b = torch.randn((inst, n), generator=generator) if scheme in ("scaling", "normal") else torch.zeros(inst, n)
    return {"W": W, "b": b}


def _untied_shapes(inst: int, m: int, n: int) -> dict[str, tuple[int, ...]]:
    return {"W1": (inst, m, n), "W2": (inst, n, m), "b": (inst, n)}


def _untied_init(inst: int, m: int, n: int, scheme: str, generator: torch.Generator, notebook: int) -> Params:
    # each matrix as the tied W is initialised (the same std: its fans are n and m either way)
    W1 = init_weights(inst, m, n, scheme, generator, notebook)
    W2 = init_weights(inst, m, n, scheme, generator, notebook).transpose(1, 2).contiguous()
    return {"W1": W1, "W2": W2, "b": torch.zeros(inst, n)}


def untied_forward(params: Params, x: Tensor) -> Tensor:
    """y' = ReLU(W2 ReLU(W1 x) + b) for ``x [inst, batch, feat]`` (PAPER.md §8)."""
    h = torch.relu(torch.einsum("ibf,ihf->ibh", x, params["W1"]))
    return torch.relu(torch.einsum("ibh,ifh->ibf", h, params["W2"]) + params["b"][:, None, :])


FAMILIES: dict[str, Family] = {
    **{name: Family(name, _tied_shapes, _tied_init, lambda p, x, name=name: forward(p["W"], p["b"], x, name))
       for name in TIED},
    "untied-abs": Family("untied-abs", _untied_shapes, _untied_init, untied_forward, target=torch.abs),
}
"""The implementation of every name in :data:`tms.kinds.MODELS`, by name."""


def is_tied(model: str) -> bool:
    """Whether the family's parameters are one W and b (the figures and metrics of W's columns apply)."""
    return set(get_family(model).shapes(1, 1, 1)) == {"W", "b"}


def get_family(name: str) -> Family:
    """The family called ``name``, or a ConfigError listing the known ones."""
    return FAMILIES[MODELS.check(name)]


class ToyModel(nn.Module):
    """A batch of tied toy models as an ``nn.Module``, for users who want autograd and their own loop."""

    def __init__(self, W: Tensor, b: Tensor, model: str = "relu"):
        super().__init__()
        if W.ndim != 3 or b.ndim != 2 or b.shape != (W.shape[0], W.shape[2]):
            raise ConfigError(f"W must be [inst, hidden, feat] and b [inst, feat]; got {tuple(W.shape)}, {tuple(b.shape)}")
        if model not in TIED:
            raise ConfigError(f"model must be one of {', '.join(TIED)}, got {model!r}")
        self.W = nn.Parameter(W.clone())
        self.b = nn.Parameter(b.clone())
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return forward(self.W, self.b, x, self.model)
