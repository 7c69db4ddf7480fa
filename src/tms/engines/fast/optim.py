"""The recipe's optimizer on one flat parameter tensor: the update of ``torch.optim.AdamW``, ``Adam`` or ``SGD`` (with
momentum), through PyTorch's fused kernels."""

from __future__ import annotations

import functools
import math
from typing import List

import torch
from torch import Tensor

from ...config import Recipe


ADAMW, ADAM, SGD = 0, 1, 2
KINDS = {"adamw": ADAMW, "adam": ADAM, "sgd": SGD}


class FusedOptimizer(torch.nn.Module):
    """The recipe's optimizer (:attr:`tms.config.Recipe.optimizer`) on one flat parameter tensor, the same update as
    its ``torch.optim`` class, through PyTorch's fused kernel when the build has one for the device:

    - ``adamw``: ``torch.optim.AdamW`` (decoupled weight decay, bias-corrected moments);
    - ``adam``: ``torch.optim.Adam`` (weight decay as an L2 term added to the gradient);
    - ``sgd``: ``torch.optim.SGD`` with momentum (no dampening, not Nesterov), weight decay as an L2 term.

    A module only so that :class:`PartTrainer` can compile it into its step loop; it has no parameters of
    its own in the ``torch.nn`` sense (``param`` and ``grad`` are plain tensors, updated in place).
    """

    def __init__(self, param: Tensor, grad: Tensor, recipe: Recipe):
        super().__init__()
        self.kind = KINDS[recipe.optimizer]
        self.sgd, self.decoupled = self.kind == SGD, self.kind == ADAMW  # flags: TorchScript reads no globals
        self.momentum = float(recipe.momentum)
        self.param, self.grad = param, grad
        self.exp_avg = torch.zeros_like(param)
        self.exp_avg_sq = torch.zeros_like(param)
        self.step_t = torch.zeros((), dtype=torch.float32, device=param.device)
        self.one = torch.ones((), dtype=torch.float32, device=param.device)
        self.lr = float(recipe.lr)
        self.beta1, self.beta2 = float(recipe.betas[0]), float(recipe.betas[1])
        self.eps = float(recipe.eps)
        self.weight_decay = float(recipe.weight_decay)
        self.fused = _fused_works(param.device.type, self.kind)
        # The kernel's list arguments, made once: TorchScript drops a call whose only effects are on lists
        # built inline in the call.
        self.lists = [[param], [grad], [self.exp_avg], [self.exp_avg_sq], [self.step_t]]

    def step(self) -> None:
        p, g, m1, m2, t = self.lists
        if self.sgd:
            if self.fused:  # exp_avg holds the momentum buffer: zero at first, so the first step stores the gradient
                torch._fused_sgd_(p, g, m1, weight_decay=self.weight_decay, momentum=self.momentum, lr=self.lr,
                                  dampening=0.0, nesterov=False, maximize=False, is_first_step=False)
            else:
                self._sgd_unfused()
            return
        if self.fused:
            self.step_t.add_(self.one)  # the kernel reads the step count; torch.optim increments it first too
            no_amsgrad: List[Tensor] = []
            if self.decoupled:
                torch._fused_adamw_(
                    p, g, m1, m2, no_amsgrad, t,
                    lr=self.lr, beta1=self.beta1, beta2=self.beta2, weight_decay=self.weight_decay,
                    eps=self.eps, amsgrad=False, maximize=False,
                )
            else:
                torch._fused_adam_(
                    p, g, m1, m2, no_amsgrad, t,
                    lr=self.lr, beta1=self.beta1, beta2=self.beta2, weight_decay=self.weight_decay,
                    eps=self.eps, amsgrad=False, maximize=False,
                )
        else:
            self._step_unfused()

    def _sgd_unfused(self) -> None:
        # torch.optim.SGD's single-tensor algorithm with momentum, written out.
        d = self.grad.add(self.param, alpha=self.weight_decay) if self.weight_decay != 0 else self.grad
        self.exp_avg.mul_(self.momentum).add_(d)
        self.param.add_(self.exp_avg, alpha=-self.lr)

    def _step_unfused(self) -> None:
        # torch.optim.AdamW's and Adam's single-tensor algorithms, written out.
        self.step_t.add_(self.one)
        t = float(self.step_t.item())
        grad = self.grad
        if self.decoupled:
            self.param.mul_(1 - self.lr * self.weight_decay)
        elif self.weight_decay != 0:
            grad = grad.add(self.param, alpha=self.weight_decay)
        self.exp_avg.lerp_(grad, 1 - self.beta1)
        self.exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        bias1 = 1 - self.beta1**t
        bias2_sqrt = math.sqrt(1 - self.beta2**t)
        denom = (self.exp_avg_sq.sqrt() / bias2_sqrt).add_(self.eps)
        self.param.addcdiv_(self.exp_avg, denom, value=-self.lr / bias1)


FusedAdamW = FusedOptimizer
"""The name this module had while AdamW was the only optimizer."""


@functools.lru_cache(maxsize=None)
def _fused_works(device_type: str, kind: int = ADAMW) -> bool:
    device = torch.device(device_type)
    name = {ADAMW: "_fused_adamw_", ADAM: "_fused_adam_", SGD: "_fused_sgd_"}[kind]
    if not hasattr(torch, name):
        return False
    p = torch.zeros(2, device=device)
    try:
        if kind == SGD:
            torch._fused_sgd_([p], [torch.zeros_like(p)], [torch.zeros_like(p)], weight_decay=0.0, momentum=0.9,
                              lr=1e-3, dampening=0.0, nesterov=False, maximize=False, is_first_step=False)
        else:
            getattr(torch, name)([p], [torch.zeros_like(p)], [torch.zeros_like(p)], [torch.zeros_like(p)], [],
                                 [torch.zeros((), device=device)], lr=1e-3, beta1=0.9, beta2=0.999,
                                 weight_decay=0.0, eps=1e-8, amsgrad=False, maximize=False)
        return True
    except (RuntimeError, NotImplementedError):
        return False

