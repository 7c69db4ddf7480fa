"""The SAE families, one SAE at a time, through autograd: the reference the batched fast path is tested against.

Every family encodes ``pre = (x − b_dec) W_enc + b_enc`` and decodes ``x̂ = f W_dec + b_dec`` (SAELens's layout:
``W_enc [d_in, d_sae]``, ``W_dec [d_sae, d_in]``) with unit-norm decoder rows. The reconstruction error is the
squared error summed over the input's dimensions, mean over the batch. The families (BEYOND.md SAE):

- ``relu`` (Bricken et al. 2023; Sharkey et al. 2022): f = ReLU(pre), loss + λ mean_b Σ_j f_j (the decoder rows'
  unit norm makes the L1 penalty meaningful); dead latents resampled (:func:`resample`).
- ``topk`` (Gao et al. 2024): the k largest pre-activations of each sample kept, ReLU'd; AuxK: the residual
  e = x − x̂ (no gradient through it) reconstructed from the ``aux_k`` largest pre-activations of the dead latents,
  + α mean_b ‖e − ê‖².
- ``batchtopk`` (Bussmann et al. 2024): ReLU(pre), then the batch's B·k largest activations kept, whichever
  samples they fall in; a threshold θ (the running mean of the smallest kept activation) replaces the batch rule
  at inference; AuxK as topk.
- ``jumprelu`` (Rajamanoharan et al. 2024): f = pre · H(pre − θ) with a per-latent θ = exp(log θ), loss +
  λ mean_b Σ_j H(pre_j − θ_j); θ learns through straight-through estimators with a rectangle kernel of width ε:
  ∂f/∂θ = −(θ/ε) K((pre − θ)/ε), ∂H/∂θ = −(1/ε) K((pre − θ)/ε); H passes no gradient to pre.
- ``matryoshka`` (Bussmann et al. 2025): BatchTopK whose every prefix (``prefixes`` and d_sae) reconstructs the
  input: the loss sums each prefix's squared error; AuxK on the full reconstruction's residual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .config import SAEConfig

#: Running-mean rate of the batch families' inference threshold (the smallest activation kept per batch).
THRESHOLD_RATE = 0.01
#: A resampled latent's encoder row has this share of the mean live encoder row norm (Bricken et al. 2023).
RESAMPLE_ENCODER_SCALE = 0.2


def aux_k(cfg: SAEConfig, d_in: int) -> int:
    """AuxK's number of dead latents per sample: the config's, else d_in / 2 (Gao et al. 2024), at most d_sae."""
    k = max(1, d_in // 2) if cfg.aux_k is None else cfg.aux_k
    return min(k, cfg.d_sae)


def encoder(params: dict[str, Tensor]) -> Tensor:
    """``W_enc [d_in, d_sae]``: its own parameter, or the decoder's transpose when tied."""
    return params["W_enc"] if "W_enc" in params else params["W_dec"].T


def init_params(cfg: SAEConfig, d_in: int, generator: torch.Generator, truth: Tensor | None = None
                ) -> dict[str, Tensor]:
    """One SAE's parameters at step 0: decoder rows random unit vectors (the first rows the true directions when
    ``cfg.init == 'truth'``), the encoder their transpose (Gao et al. 2024), biases 0; jumprelu's log θ."""
    W_dec = torch.randn(cfg.d_sae, d_in, generator=generator)
    if cfg.init == "truth":
        if truth is None:
            raise ValueError("init 'truth' needs the source's directions")
        n = min(len(truth), cfg.d_sae)
        W_dec[:n] = truth[:n].float()
    W_dec = W_dec / W_dec.norm(dim=1, keepdim=True)
    params = {"W_enc": W_dec.T.contiguous(), "W_dec": W_dec, "b_enc": torch.zeros(cfg.d_sae),
              "b_dec": torch.zeros(d_in)}
    if cfg.tied:
        del params["W_enc"]
    if cfg.family == "jumprelu":
        params["log_threshold"] = torch.full((cfg.d_sae,), math.log(cfg.threshold))
    return params


@dataclass
class State:
    """What training tracks besides the parameters: steps since each latent last fired and the batch families'
    inference threshold (NaN until the first step)."""

    since_fired: Tensor
    threshold: Tensor = field(default_factory=lambda: torch.tensor(float("nan")))

    def dead(self, cfg: SAEConfig) -> Tensor:
        return self.since_fired >= cfg.dead_steps


class _JumpReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pre: Tensor, theta: Tensor, eps: float) -> Tensor:
        ctx.save_for_backward(pre, theta)
        ctx.eps = eps
        return pre * (pre > theta)

    @staticmethod
    def backward(ctx, grad: Tensor):
        pre, theta = ctx.saved_tensors
        kernel = ((pre - theta).abs() < ctx.eps / 2).to(grad.dtype) / ctx.eps
        return grad * (pre > theta), (-(theta * kernel) * grad).sum(0), None


class _Step(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pre: Tensor, theta: Tensor, eps: float) -> Tensor:
        ctx.save_for_backward(pre, theta)
        ctx.eps = eps
        return (pre > theta).to(pre.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):
        pre, theta = ctx.saved_tensors
        kernel = ((pre - theta).abs() < ctx.eps / 2).to(grad.dtype) / ctx.eps
        return None, (-kernel * grad).sum(0), None


def batch_topk_mask(act: Tensor, k: int) -> Tensor:
    """The B·k largest entries of ``act [B, d_sae]`` over the whole batch, as a 0/1 mask."""
    flat = act.flatten()
    idx = flat.topk(min(k * act.shape[0], flat.numel())).indices
    return torch.zeros_like(flat).index_fill_(0, idx, 1.0).view_as(act)


def activate(cfg: SAEConfig, params: dict[str, Tensor], pre: Tensor) -> Tensor:
    """The training-time latents ``f [B, d_sae]`` from the pre-activations (differentiable)."""
    if cfg.family == "relu":
        return torch.relu(pre)
    if cfg.family == "topk":
        vals, idx = pre.topk(cfg.k, dim=1)
        return torch.zeros_like(pre).scatter(1, idx, torch.relu(vals))
    if cfg.family in ("batchtopk", "matryoshka"):
        act = torch.relu(pre)
        return act * batch_topk_mask(act.detach(), cfg.k)
    theta = params["log_threshold"].exp()
    return _JumpReLU.apply(pre, theta, cfg.bandwidth)


def encode(cfg: SAEConfig, params: dict[str, Tensor], x: Tensor, threshold: Tensor | None = None) -> Tensor:
    """Inference latents: as training for relu, topk and jumprelu; the batch families keep every activation above
    their threshold (Bussmann et al. 2024), so a sample's code does not depend on the rest of its batch."""
    pre = (x - params["b_dec"]) @ encoder(params) + params["b_enc"]
    if cfg.family in ("batchtopk", "matryoshka"):
        return torch.relu(pre) * (pre > threshold)
    return activate(cfg, params, pre)


def eager_loss(cfg: SAEConfig, params: dict[str, Tensor], x: Tensor, dead: Tensor) -> tuple[Tensor, Tensor]:
    """``(loss, f)`` of one SAE on a batch ``x [B, d_in]``; ``dead [d_sae]`` the dead latents (AuxK)."""
    W_dec, b_dec = params["W_dec"], params["b_dec"]
    pre = (x - b_dec) @ encoder(params) + params["b_enc"]
    f = activate(cfg, params, pre)
    x_hat = f @ W_dec + b_dec
    if cfg.family == "matryoshka":
        loss = sum(((f[:, :m] @ W_dec[:m] + b_dec - x) ** 2).sum(1).mean() for m in cfg.groups)
    else:
        loss = ((x_hat - x) ** 2).sum(1).mean()
    if cfg.family == "relu":
        loss = loss + cfg.penalty * f.sum(1).mean()
    elif cfg.family == "jumprelu":
        loss = loss + cfg.penalty * _Step.apply(pre, params["log_threshold"].exp(), cfg.bandwidth).sum(1).mean()
    elif cfg.aux_coef > 0 and aux_k(cfg, x.shape[1]) > 0 and bool(dead.any()):
        masked = pre.masked_fill(~dead, -math.inf)
        vals, idx = masked.topk(min(aux_k(cfg, x.shape[1]), cfg.d_sae), dim=1)
        f_aux = torch.zeros_like(pre).scatter(1, idx, torch.relu(vals))
        e = (x - x_hat).detach()
        loss = loss + cfg.aux_coef * ((f_aux @ W_dec - e) ** 2).sum(1).mean()
    return loss, f


def fired(f: Tensor) -> Tensor:
    """Which latents fired on the batch ``[d_sae]`` (bool)."""
    return (f > 0).any(0)


def kept_minimum(f: Tensor) -> Tensor:
    """The smallest positive activation in ``f`` (inf when none): what the batch families' threshold tracks."""
    pos = f[f > 0]
    return pos.min() if pos.numel() else torch.tensor(math.inf)


def update_threshold(threshold: Tensor, minimum: Tensor) -> Tensor:
    """The running threshold after one more batch (its first batch sets it)."""
    if not torch.isfinite(minimum):
        return threshold
    if torch.isnan(threshold):
        return minimum.clone()
    return threshold + THRESHOLD_RATE * (minimum - threshold)
