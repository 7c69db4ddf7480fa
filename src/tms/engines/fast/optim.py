"""AdamW on one flat parameter tensor: the update of ``torch.optim.AdamW``, through PyTorch's fused kernel."""

from __future__ import annotations

import functools
import math
from typing import List

import torch
from torch import Tensor

from ...config import Recipe


class FusedAdamW(torch.nn.Module):
    """AdamW on one flat parameter tensor, the same update as ``torch.optim.AdamW`` (decoupled weight decay,
    bias-corrected moments), through PyTorch's fused kernel when the build has one for the device.

    A module only so that :class:`PartTrainer` can compile it into its step loop; it has no parameters of
    its own in the ``torch.nn`` sense (``param`` and ``grad`` are plain tensors, updated in place).
    """

    def __init__(self, param: Tensor, grad: Tensor, recipe: Recipe):
        super().__init__()
        self.param, self.grad = param, grad
        self.exp_avg = torch.zeros_like(param)
        self.exp_avg_sq = torch.zeros_like(param)
        self.step_t = torch.zeros((), dtype=torch.float32, device=param.device)
        self.one = torch.ones((), dtype=torch.float32, device=param.device)
        self.lr = float(recipe.lr)
        self.beta1, self.beta2 = float(recipe.betas[0]), float(recipe.betas[1])
        self.eps = float(recipe.eps)
        self.weight_decay = float(recipe.weight_decay)
        self.fused = _fused_adamw_works(param.device.type)
        # The kernel's list arguments, made once: TorchScript drops a call whose only effects are on lists
        # built inline in the call.
        self.lists = [[param], [grad], [self.exp_avg], [self.exp_avg_sq], [self.step_t]]

    def step(self) -> None:
        if self.fused:
            self.step_t.add_(self.one)  # the kernel reads the step count; torch.optim increments it first too
            p, g, m1, m2, t = self.lists
            no_amsgrad: List[Tensor] = []
            torch._fused_adamw_(
                p, g, m1, m2, no_amsgrad, t,
                lr=self.lr, beta1=self.beta1, beta2=self.beta2, weight_decay=self.weight_decay,
                eps=self.eps, amsgrad=False, maximize=False,
            )
        else:
            self._step_unfused()

    def _step_unfused(self) -> None:
        # torch.optim.AdamW's single-tensor algorithm, written out.
        self.step_t.add_(self.one)
        t = float(self.step_t.item())
        self.param.mul_(1 - self.lr * self.weight_decay)
        self.exp_avg.lerp_(self.grad, 1 - self.beta1)
        self.exp_avg_sq.mul_(self.beta2).addcmul_(self.grad, self.grad, value=1 - self.beta2)
        bias1 = 1 - self.beta1**t
        bias2_sqrt = math.sqrt(1 - self.beta2**t)
        denom = (self.exp_avg_sq.sqrt() / bias2_sqrt).add_(self.eps)
        self.param.addcdiv_(self.exp_avg, denom, value=-self.lr / bias1)


@functools.lru_cache(maxsize=None)
def _fused_adamw_works(device_type: str) -> bool:
    device = torch.device(device_type)
    if not hasattr(torch, "_fused_adamw_"):
        return False
    try:
        p = torch.zeros(2, device=device)
        torch._fused_adamw_([p], [torch.zeros_like(p)], [torch.zeros_like(p)], [torch.zeros_like(p)], [],
                            [torch.zeros((), device=device)], lr=1e-3, beta1=0.9, beta2=0.999,
                            weight_decay=0.0, eps=1e-8, amsgrad=False, maximize=False)
        return True
    except (RuntimeError, NotImplementedError):
        return False

