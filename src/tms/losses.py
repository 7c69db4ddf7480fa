"""Training losses by name (:data:`tms.kinds.LOSSES`, :attr:`tms.config.Recipe.loss`): what the engines minimise and
the trainer evaluates, per instance (``[inst]``), as means over the batch.

- ``weighted-mse``: the paper's importance-weighted squared error, mean over features and batch (PAPER.md §0;
  the family's own :meth:`tms.model.Family.loss`);
- ``target-only``: Roe & Goldstein 2025's loss for data with one target feature t per sample: (x'_t − x_t)² +
  λ max_{j≠t} x'_j, where x is the family's target (x itself for the tied families) and λ is
  :attr:`tms.config.Recipe.loss_penalty`. The importances are not used. Their code sums over the batch; we take the
  mean, as for the paper's loss (for Adam only the scale of eps relative to the gradient differs).
"""

from __future__ import annotations

from typing import Callable

from torch import Tensor

from .errors import ConfigError
from .kinds import LOSSES
from .model import Family, Params

LossFunction = Callable[[Family, Params, Tensor, Tensor, "Tensor | None", float], Tensor]
"""``loss(family, params, x [inst, batch, feat], importance [inst, feat], target [inst, batch] or None, penalty)``
→ ``[inst]``."""


def weighted_mse(family: Family, params: Params, x: Tensor, importance: Tensor, target: Tensor | None,
                 penalty: float) -> Tensor:
    """The paper's loss (the target index and the penalty are not used)."""
    return family.loss(params, x, importance)


def target_only(family: Family, params: Params, x: Tensor, importance: Tensor, target: Tensor | None,
                penalty: float) -> Tensor:
    """Roe & Goldstein 2025: per sample (x'_t − y_t)² + λ max_{j≠t} x'_j over the target feature t, mean over the
    batch (``[inst]``)."""
    if target is None:
        raise ConfigError("loss 'target-only' needs data that names each sample's target feature")
    out = family.forward(params, x)  # [inst, batch, feat]
    y = family.target(x)
    t = target.long().unsqueeze(-1)  # [inst, batch, 1]
    err = (out.gather(2, t) - y.gather(2, t)).squeeze(-1) ** 2  # [inst, batch]
    if penalty:
        others = out.scatter(2, t, float("-inf")).amax(dim=2)  # the largest output but the target's
        err = err + penalty * others
    return err.mean(dim=1)


LOSS_FUNCTIONS: dict[str, LossFunction] = {"weighted-mse": weighted_mse, "target-only": target_only}
"""The implementation of every name in :data:`tms.kinds.LOSSES`."""


def get_loss(name: str) -> LossFunction:
    """The loss called ``name``, or a ConfigError listing the known ones."""
    return LOSS_FUNCTIONS[LOSSES.check(name)]


def split_draw(drawn: Tensor | tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor | None]:
    """``(x, target)`` of a sampler's result: a distribution in :data:`tms.kinds.TARGETED_DATA` gives
    ``(x, target)``, any other ``x`` alone (target None)."""
    if isinstance(drawn, tuple):
        x, target = drawn
        return x, target
    return drawn, None

