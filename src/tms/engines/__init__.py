"""Training engines: interchangeable implementations of the same optimisation (PAPER.md §0 recipe).

An engine trains one chunk of instances in place. Its signature is :class:`EngineFn`:

    engine(W, b, importance, density, activation, recipe, generator, on_log, on_steps) -> None

- ``W [inst, hidden, feat]`` and ``b [inst, feat]`` are float32 tensors on the target device, updated in place;
- ``importance``, ``density``: ``[inst, feat]`` on the same device;
- ``generator``: the ``torch.Generator`` (on the device) for the training batches;
- ``on_log(step, losses)``: called after optimizer step ``step`` (1-based) whenever ``step % log_every == 0``
  or ``step == steps``, with that step's training loss per instance ``[inst]`` (before the update);
- ``on_steps(k)``: progress, called with the number of steps just done (any granularity).

'eager' is the reference: autograd and ``torch.optim.AdamW``, exactly the companion notebook's recipe.
"""

from __future__ import annotations

from typing import Callable, Protocol

import torch
from torch import Tensor

from ..config import ENGINES, Recipe
from ..errors import ConfigError


class EngineFn(Protocol):
    def __call__(
        self,
        W: Tensor,
        b: Tensor,
        importance: Tensor,
        density: Tensor,
        activation: str,
        recipe: Recipe,
        generator: torch.Generator,
        on_log: Callable[[int, Tensor], None],
        on_steps: Callable[[int], None],
    ) -> None: ...


def get_engine(name: str) -> tuple[str, EngineFn]:
    """Resolve an engine name ('auto' picks the fastest available) to ``(resolved_name, function)``."""
    if name not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {name!r}")
    if name == "auto":
        name = "fast"
    if name == "fast":
        from .fast import train_chunk

        return "fast", train_chunk
    from .eager import train_chunk

    return "eager", train_chunk
