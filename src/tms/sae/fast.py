"""The fast path: many SAEs of one family and shape as one batch of tensors, hand-written gradients, batched Adam.

A :class:`Bank` holds S SAEs that share family, ``d_sae`` and matryoshka nesting (they may differ in k, penalty,
learning rate, AuxK settings and seed) and trains them on one activation batch per step. Layout: ``W_encT [S,
d_sae, d_in]`` (the encoder stored row-per-latent, so a latent's gradient is one contiguous row), ``W_dec [S, d_sae,
d_in]``, ``b_enc [S, d_sae]``, ``b_dec [S, d_in]``, jumprelu's ``log_threshold [S, d_sae]``.

The ranked families (topk, batchtopk, matryoshka) are computed sparsely: only the encoder is a dense matmul; the
kept latents form a list of (sample, latent, value) entries from which the decoder, its gradient and the encoder's
gradient are gathered and scatter-added, so the cost of the rest scales with k, not with d_sae. relu and jumprelu
are computed the same way over their active entries (pre > 0, pre > θ), and jumprelu's threshold gradient over
the entries inside its kernel. :func:`gradients` returns exactly the gradients of
:func:`tms.sae.families.eager_loss` (tests/test_sae.py checks them against autograd); :meth:`Bank.step` applies
the decoder-norm constraint and Adam as torch.optim.Adam does. Where numba is installed (the ``fast`` extra), a
TopK bank's step after the encoder runs in the compiled kernel of :mod:`tms.sae.kernels` instead, with the same
gradients (tests/test_sae_kernels.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..segments import segment_sum
from . import families, kernels
from .config import RANKED, SAEConfig

BETAS = (0.9, 0.999)
EPS = 1e-8
SPARSE_BELOW = 0.05
"""relu and jumprelu take the sparse path when at most this share of (sample, latent) entries is active (codes
are dense early in training: 77 ms per SAE-step sparse, 8 dense at half the latents active, 30 → 400, batch 1024)."""
PARAMS = ("W_encT", "W_dec", "b_enc", "b_dec", "log_threshold")


@dataclass
class Sparse:
    """Kept latents as entries: row ``sb`` (s·B + b) of the flattened batch, latent ``sj`` (s·d_sae + j) of the
    flattened bank, activation ``val`` (0 where the entry is not kept) and ``live`` (1 where it is)."""

    sb: Tensor
    sj: Tensor
    val: Tensor
    live: Tensor


def _entries(S: int, B: int, d_sae: int, b: Tensor, j: Tensor, vals: Tensor, keep: Tensor) -> Sparse:
    s = torch.arange(S).view(S, *([1] * (b.dim() - 1)))
    live = (keep & (vals > 0)).to(vals.dtype)
    return Sparse((s * B + b).flatten(), (s * d_sae + j).flatten(), (torch.relu(vals) * live).flatten(),
                  live.flatten())


def topk_entries(pre: Tensor, k: Tensor) -> Sparse:
    """Per sample, the k_s largest pre-activations, ReLU'd (k may differ between the SAEs of a bank)."""
    S, B, d_sae = pre.shape
    kmax = int(k.max())
    vals, idx = pre.topk(kmax, dim=2)
    keep = torch.arange(kmax).view(1, 1, kmax) < k.view(S, 1, 1)
    b = torch.arange(B).view(1, B, 1).expand(S, B, kmax)
    return _entries(S, B, d_sae, b, idx, vals, keep)


def batch_topk_entries(pre: Tensor, k: Tensor) -> Sparse:
    """Per SAE, the B·k_s largest activations ReLU(pre) of the whole batch."""
    S, B, d_sae = pre.shape
    kmax = min(int(k.max()) * B, B * d_sae)
    vals, flat = torch.relu(pre).reshape(S, B * d_sae).topk(kmax, dim=1)
    keep = torch.arange(kmax).view(1, kmax) < (k * B).view(S, 1)
    return _entries(S, B, d_sae, flat // d_sae, flat % d_sae, vals, keep)


def aux_entries(pre: Tensor, dead: Tensor, aux_k: Tensor) -> Sparse:
    """AuxK: per sample, the aux_k_s largest pre-activations among the dead latents, ReLU'd."""
    S, B, d_sae = pre.shape
    kmax = int(aux_k.max())
    vals, idx = pre.masked_fill(~dead[:, None, :], -math.inf).topk(kmax, dim=2)
    keep = (torch.arange(kmax).view(1, 1, kmax) < aux_k.view(S, 1, 1)) & torch.isfinite(vals)
    b = torch.arange(B).view(1, B, 1).expand(S, B, kmax)
    return _entries(S, B, d_sae, b, idx, vals.masked_fill(~torch.isfinite(vals), 0.0), keep)


class Bank:
    """S SAEs of one family and shape, trained together (:func:`tms.sae.train.train` makes one per bank key)."""

    def __init__(self, configs: list[SAEConfig], params: list[dict[str, Tensor]]):
        self.configs = configs
        cfg = configs[0]
        self.family, self.d_sae, self.groups = cfg.family, cfg.d_sae, cfg.groups
        stack = lambda name: torch.stack([p[name] for p in params]).contiguous()  # noqa: E731
        self.tied = cfg.tied
        self.p = {"W_dec": stack("W_dec"), "b_enc": stack("b_enc"), "b_dec": stack("b_dec")}
        if not self.tied:
            self.p["W_encT"] = torch.stack([p["W_enc"].T for p in params]).contiguous()
        if cfg.family == "jumprelu":
            self.p["log_threshold"] = stack("log_threshold")
        self.m = {n: torch.zeros_like(t) for n, t in self.p.items()}
        self.v = {n: torch.zeros_like(t) for n, t in self.p.items()}
        self.t = 0
        S, d_in = len(configs), params[0]["W_dec"].shape[1]
        self.d_in = d_in
        vec = lambda f, dtype=torch.float32: torch.tensor([f(c) for c in configs], dtype=dtype)  # noqa: E731
        self.k = vec(lambda c: c.k or 0, torch.long)
        self.penalty, self.lr = vec(lambda c: c.penalty), vec(lambda c: c.lr)
        self.bandwidth, self.aux_coef = vec(lambda c: c.bandwidth), vec(lambda c: c.aux_coef)
        self.aux_k = vec(lambda c: families.aux_k(c, d_in), torch.long)
        self.dead_steps = vec(lambda c: c.dead_steps, torch.long)
        self.since_fired = torch.zeros(S, self.d_sae, dtype=torch.long)
        self.threshold = torch.full((S,), math.nan)
        self.group_of = torch.repeat_interleave(torch.arange(len(self.groups)),
                                                torch.tensor(self.groups) - torch.tensor((0, *self.groups[:-1])))

    @property
    def W_encT(self) -> Tensor:
        """The encoder, one row per latent ``[S, d_sae, d_in]`` (the decoder itself when tied)."""
        return self.p["W_dec"] if self.tied else self.p["W_encT"]

    @property
    def dead(self) -> Tensor:
        return self.since_fired >= self.dead_steps[:, None]

    def step(self, x: Tensor) -> Tensor:
        """One training step on the batch ``x [B, d_in]``; the per-SAE loss before it ``[S]``."""
        loss, grads, fired, kept_min = gradients(self, x, self.dead)
        self.t += 1
        if self.tied:
            grads["W_dec"] = grads["W_dec"] + grads.pop("W_encT")
        g = grads["W_dec"]
        grads["W_dec"] = g - (g * self.p["W_dec"]).sum(2, keepdim=True) * self.p["W_dec"]
        self._adam(grads)
        self.p["W_dec"] /= self.p["W_dec"].norm(dim=2, keepdim=True)
        self.since_fired = torch.where(fired, 0, self.since_fired + 1)
        if self.family in ("batchtopk", "matryoshka"):
            self.threshold = update_thresholds(self.threshold, kept_min)
        return loss

    def _adam(self, grads: dict[str, Tensor]) -> None:
        """torch.optim.Adam's update (no weight decay), one learning rate per SAE."""
        b1, b2 = BETAS
        step_size = self.lr / (1 - b1 ** self.t)
        bias2 = math.sqrt(1 - b2 ** self.t)
        for name, p in self.p.items():
            g = grads[name]
            self.m[name].lerp_(g, 1 - b1)
            self.v[name].mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (self.v[name].sqrt() / bias2).add_(EPS)
            shape = (-1,) + (1,) * (p.dim() - 1)
            p.addcdiv_(self.m[name] * step_size.view(shape), denom, value=-1.0)

    def export(self, s: int) -> dict[str, Tensor]:
        """SAE ``s``'s parameters in the public layout (:func:`tms.sae.families.init_params`')."""
        out = {"W_enc": self.W_encT[s].T.contiguous(), "W_dec": self.p["W_dec"][s].clone(),
               "b_enc": self.p["b_enc"][s].clone(), "b_dec": self.p["b_dec"][s].clone()}
        if "log_threshold" in self.p:
            out["log_threshold"] = self.p["log_threshold"][s].clone()
        return out


def update_thresholds(threshold: Tensor, minimum: Tensor) -> Tensor:
    """:func:`tms.sae.families.update_threshold` for every SAE of a bank."""
    first = torch.isnan(threshold)
    new = torch.where(first, minimum, threshold + families.THRESHOLD_RATE * (minimum - threshold))
    return torch.where(torch.isfinite(minimum), new, threshold)


def gradients(bank: Bank, x: Tensor, dead: Tensor) -> tuple[Tensor, dict[str, Tensor], Tensor, Tensor]:
    """``(loss [S], grads, fired [S, d_sae], kept_min [S])`` of every SAE of the bank on ``x [B, d_in]``."""
    p = bank.p
    xc = x[None] - p["b_dec"][:, None, :]  # [S, B, d_in]
    if kernels.usable(bank.family, bank.groups, x):  # the encoder, then the rest in the kernel
        return kernels.gradients_topk(bank, xc, x, dead)
    pre = torch.baddbmm(p["b_enc"][:, None, :], xc, bank.W_encT.transpose(1, 2))  # [S, B, d_sae]
    if bank.family in RANKED:
        return _ranked(bank, x, xc, pre, dead)
    on = pre > (0.0 if bank.family == "relu" else bank.p["log_threshold"].exp()[:, None, :])
    if float(on.sum()) > SPARSE_BELOW * on.numel():
        return _dense(bank, x, xc, pre)
    return _thresholded(bank, x, xc, pre)


def _finish(bank: Bank, xc: Tensor, dpre_sum: Tensor, g_dec_bias: Tensor, grads: dict[str, Tensor]) -> None:
    """b_dec's gradient: Σ_b ∂L/∂x̂ directly, minus its path through x − b_dec into the encoder."""
    grads["b_dec"] = g_dec_bias - torch.einsum("sj,sjd->sd", dpre_sum, bank.W_encT)


def _dense(bank: Bank, x: Tensor, xc: Tensor, pre: Tensor):
    p, S, B = bank.p, xc.shape[0], xc.shape[1]
    lam = bank.penalty.view(S, 1, 1)
    if bank.family == "relu":
        on = (pre > 0).to(pre.dtype)
        f = pre * on
    else:
        theta = p["log_threshold"].exp()[:, None, :]
        on = (pre > theta).to(pre.dtype)
        f = pre * on
    x_hat = torch.baddbmm(p["b_dec"][:, None, :], f, p["W_dec"])
    r = x_hat - x[None]
    loss = (r * r).sum(2).mean(1)
    g = r * (2.0 / B)
    df = torch.bmm(g, p["W_dec"].transpose(1, 2))
    grads = {"W_dec": torch.bmm(f.transpose(1, 2), g)}
    if bank.family == "relu":
        loss = loss + bank.penalty * f.sum(2).mean(1)
        dpre = (df + lam / B) * on
    else:
        loss = loss + bank.penalty * on.sum(2).mean(1)
        eps = bank.bandwidth.view(S, 1, 1)
        kernel = ((pre - theta).abs() < eps / 2).to(pre.dtype) / eps
        dtheta = (-(theta * kernel) * df - kernel * lam / B).sum(1)
        grads["log_threshold"] = dtheta * theta[:, 0, :]
        dpre = df * on
    grads["W_encT"] = torch.bmm(dpre.transpose(1, 2), xc)
    grads["b_enc"] = dpre.sum(1)
    _finish(bank, xc, grads["b_enc"], g.sum(1), grads)
    return loss, grads, on.any(1), torch.full((S,), math.inf)


def _where(mask: Tensor, pre: Tensor, d_sae: int) -> Sparse:
    """The entries where ``mask [S, B, d_sae]`` holds, in (s, b, j) order, with their pre-activations."""
    S, B, _ = mask.shape
    s, b, j = mask.nonzero(as_tuple=True)
    val = pre[s, b, j]
    return Sparse(s * B + b, s * d_sae + j, val, torch.ones_like(val))


def _thresholded(bank: Bank, x: Tensor, xc: Tensor, pre: Tensor):
    """relu and jumprelu, sparse after the encoder: only the active (sample, latent) entries are decoded and
    differentiated (their codes are sparse: L0 of a few to tens of hundreds of latents)."""
    p, (S, B, d_in), d_sae = bank.p, xc.shape, bank.d_sae
    rows, n = S * B, S * d_sae
    W_dec = p["W_dec"].reshape(n, d_in)
    theta = p["log_threshold"].exp() if bank.family == "jumprelu" else None
    code = _where(pre > (0.0 if theta is None else theta[:, None, :]), pre, d_sae)
    b_dec = p["b_dec"].repeat_interleave(B, 0)
    r = segment_sum(code.sb, rows, code.sj, W_dec, code.val, is_sorted=True) + b_dec - x.repeat(S, 1)
    loss = (r * r).sum(1).view(S, B).mean(1)
    g = r * (2.0 / B)
    per_s = code.sb // B
    lam_b = (bank.penalty / B)[per_s]
    if theta is None:  # L1: λ Σ_j f_j, mean over the batch
        loss = loss + bank.penalty * torch.bincount(per_s, weights=code.val, minlength=S) / B
    else:  # L0: λ Σ_j H(pre_j − θ_j), no gradient to pre
        loss = loss + bank.penalty * torch.bincount(per_s, minlength=S).to(pre.dtype) / B
        lam_b = torch.zeros_like(lam_b)
    xcf = xc.reshape(rows, d_in)
    dW, dWe, db_enc = _backward_entries(code, g, code.sb, W_dec, xcf, n, lam_b)
    grads = {"W_dec": dW.view(S, d_sae, d_in), "W_encT": dWe.view(S, d_sae, d_in), "b_enc": db_enc.view(S, d_sae)}
    if theta is not None:
        grads["log_threshold"] = _theta_grad(bank, pre, theta, g, W_dec)
    _finish(bank, xc, grads["b_enc"], g.view(S, B, d_in).sum(1), grads)
    fired = torch.bincount(code.sj, minlength=n).view(S, d_sae) > 0
    return loss, grads, fired, torch.full((S,), math.inf)


def _theta_grad(bank: Bank, pre: Tensor, theta: Tensor, g: Tensor, W_dec: Tensor) -> Tensor:
    """∂L/∂log θ through the straight-through estimators (rectangle kernel K of width ε around θ):
    Σ_b [∂L/∂f · (−θ/ε) + λ/B · (−1/ε)] over the samples with |pre − θ| < ε/2, times θ."""
    S, B, d_sae = pre.shape
    eps = bank.bandwidth[:, None, None]
    near = _where((pre - theta[:, None, :]).abs() < eps / 2, pre, d_sae)
    df = (F.embedding(near.sb, g) * F.embedding(near.sj, W_dec)).sum(1)
    per_s = near.sb // B
    th = theta.reshape(-1)[near.sj]
    e = bank.bandwidth[per_s]
    contrib = -(th / e) * df - (bank.penalty / B)[per_s] / e
    return torch.bincount(near.sj, weights=contrib, minlength=S * d_sae).view(S, d_sae) * theta


def _backward_entries(code: Sparse, g_table: Tensor, g_idx: Tensor, W_dec: Tensor, xcf: Tensor, n: int,
                      extra: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """For kept entries whose ∂L/∂x̂ row is ``g_table[g_idx]`` (plus ``extra`` on each entry's code gradient: the
    L1 penalty): ``(dW_dec, dW_encT, db_enc)`` flattened over the bank's latents."""
    dval = (F.embedding(g_idx, g_table) * F.embedding(code.sj, W_dec)).sum(1)
    if extra is not None:
        dval = dval + extra
    dval = dval * code.live
    order = torch.argsort(code.sj)
    sj, gi, sb = code.sj[order], g_idx[order], code.sb[order]
    dW = segment_sum(sj, n, gi, g_table, code.val[order], is_sorted=True)
    dWe = segment_sum(sj, n, sb, xcf, dval[order], is_sorted=True)
    return dW, dWe, torch.bincount(code.sj, weights=dval, minlength=n)


def _ranked(bank: Bank, x: Tensor, xc: Tensor, pre: Tensor, dead: Tensor):
    p, (S, B, d_in), d_sae = bank.p, xc.shape, bank.d_sae
    topk = bank.family == "topk"
    code = topk_entries(pre, bank.k) if topk else batch_topk_entries(pre, bank.k)
    W_dec = p["W_dec"].reshape(S * d_sae, d_in)
    rows, n = S * B, S * d_sae
    xf = x.repeat(S, 1)
    b_dec = p["b_dec"].repeat_interleave(B, 0)
    G = len(bank.groups)
    if G == 1:
        x_hat = segment_sum(code.sb, rows, code.sj, W_dec, code.val, is_sorted=topk) + b_dec
        r = x_hat - xf
        loss = (r * r).sum(1).view(S, B).mean(1)
        g_table, g_idx, g_bias = r * (2.0 / B), code.sb, None
    else:  # matryoshka: prefix t reconstructs from groups 0..t; a latent of group t feeds losses t..G-1
        key = bank.group_of[code.sj % d_sae] * rows + code.sb
        x_hats = segment_sum(key, G * rows, code.sj, W_dec, code.val).view(G, rows, d_in).cumsum(0) + b_dec
        r_all = x_hats - xf
        loss = (r_all * r_all).sum(2).view(G, S, B).mean(2).sum(0)
        suffix = (r_all * (2.0 / B)).flip(0).cumsum(0).flip(0)
        g_table, g_idx, g_bias = suffix.view(G * rows, d_in), key, suffix[0]
        r = r_all[-1]
    xcf = xc.reshape(rows, d_in)
    dW, dWe, db_enc = _backward_entries(code, g_table, g_idx, W_dec, xcf, n)
    has_aux = dead.any(1) & (bank.aux_coef > 0) & (bank.aux_k > 0)
    if bool(has_aux.any()):
        aux = aux_entries(pre, dead & has_aux[:, None], bank.aux_k)
        ra = segment_sum(aux.sb, rows, aux.sj, W_dec, aux.val, is_sorted=True) + r.detach()  # ê − e, e = x − x̂
        loss = loss + bank.aux_coef * has_aux * (ra * ra).sum(1).view(S, B).mean(1)
        ga = ra * (2.0 / B) * bank.aux_coef.repeat_interleave(B)[:, None]
        aW, aWe, ab = _backward_entries(aux, ga, aux.sb, W_dec, xcf, n)
        dW, dWe, db_enc = dW + aW, dWe + aWe, db_enc + ab
    db_enc = db_enc.view(S, d_sae)
    grads = {"W_dec": dW.view(S, d_sae, d_in), "W_encT": dWe.view(S, d_sae, d_in), "b_enc": db_enc}
    g_sum = (g_table if g_bias is None else g_bias).view(S, B, d_in).sum(1)
    _finish(bank, xc, db_enc, g_sum, grads)
    fired = torch.bincount(code.sj, weights=code.live, minlength=n).view(S, d_sae) > 0
    pos = torch.where(code.live > 0, code.val, torch.tensor(math.inf))
    kept_min = torch.full((S,), math.inf).scatter_reduce(0, code.sb // B, pos, "amin")
    return loss, grads, fired, kept_min
