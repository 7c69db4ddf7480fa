"""Compiled kernels of the fast path (numba, the ``fast`` extra): the TopK family's step after the encoder.

On the torch path, ``torch.topk`` over every latent of every sample is half of a TopK bank's step on the CPU, and
the gathers and scatter-adds around the kept entries most of the rest. :func:`gradients_topk` computes one SAE's
encoder products at a time (a matmul, still in the cache when the kernel reads them) and :func:`topk_step` does the
rest in one pass over the samples, in a fixed order: per sample it selects the kept latents, decodes them, takes
the squared error and its gradient, and adds the kept entries' gradients into the decoder, the encoder and its
bias; with AuxK it does the same for the dead latents' reconstruction of the residual.

Selection (:func:`_select`). Only a kept latent with a positive pre-activation contributes anything (a kept entry
at or below 0 is ReLU'd to 0: it decodes nothing and passes no gradient), so the kernel selects the k largest
*positive* pre-activations. It deals the latents into ``STRIPES`` stripes (latent j in stripe j mod STRIPES) and
takes each stripe's maximum in one vectorised pass; the stripes dealt into k groups, the smallest group maximum is
a lower bound on the k-th largest pre-activation (k entries in distinct groups reach it). Only the stripes whose
maximum reaches it are read, their entries at or above it gathered without a branch, and those inserted into the
top k by a chain of compare-exchanges. Ties keep the latent met first (in the stripe pass, in stripe order, not
by index); ``torch.topk`` leaves their order open. A NaN pre-activation (a diverged SAE) is never selected, and in
the stripe pass it may hide its stripe.

The kernel's arithmetic is float32, plain IEEE (numba without fastmath: no reassociation), its sums in a fixed
order, so given the encoder products its results do not depend on the host's vector width; the encoder products
themselves (``torch.mm``) and the b_dec gradient (``torch.einsum``) are torch's, whose last bits may differ
between hosts. The input dimension is padded with zeros to a multiple of ``PAD`` (zeros change no sum). Tested against the torch path and autograd, both selection paths
and with and without padding (tests/test_sae_kernels.py).

``TMS_SAE_KERNELS=0`` in the environment turns the kernels off (read at each call); without numba they are off.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

try:  # the `fast` extra
    from numba import njit
except ImportError:  # pragma: no cover - exercised where numba is missing
    njit = None

ENV = "TMS_SAE_KERNELS"
STRIPES = 32
"""Stripes of the selection's first pass: a multiple of the vector width, small enough that the k-th largest
stripe maximum is found quickly, large enough that few stripes pass it."""

PAD = 16
"""The input dimension is padded to a multiple of this (the widest vector, 16 floats) inside the kernel."""


def available() -> bool:
    """Whether the compiled kernels are installed and not turned off (``TMS_SAE_KERNELS=0``)."""
    return njit is not None and os.environ.get(ENV, "1") != "0"


def usable(family: str, groups: tuple, x: Tensor) -> bool:
    """Whether :func:`gradients_topk` can take a bank's step: the topk family, on the CPU, in float32."""
    return (family == "topk" and len(groups) == 1 and x.device.type == "cpu" and x.dtype == torch.float32
            and available())


if njit is not None:

    @njit(cache=True, nogil=True, boundscheck=False)
    def _insert(v, j, topv, topj, k):
        """Insert value v of latent j into the descending top-k lists: a chain of compare-exchanges, free of
        branches (their mispredictions were most of the insertion's cost)."""
        for p in range(k):
            tv = topv[p]
            tj = topj[p]
            sw = v > tv
            topv[p] = v if sw else tv
            topj[p] = j if sw else tj
            v = tv if sw else v
            j = tj if sw else j

    @njit(cache=True, nogil=True, boundscheck=False)
    def _select(row, bias, k, bm, topv, topj, cand):
        """The at most k largest positive entries of ``row + bias`` into ``topv``/``topj`` (descending); their
        count."""
        D = row.shape[0]
        for t in range(k):
            topv[t] = 0.0
            topj[t] = -1
        if D < 2 * STRIPES or k > STRIPES:  # small dictionaries, large k: one pass over every latent
            for j in range(D):
                v = row[j] + bias[j]
                if v > topv[k - 1]:
                    _insert(v, j, topv, topj, k)
        else:
            full = D // STRIPES
            for b in range(STRIPES):  # the stripes' maxima, vectorised (STRIPES is a compile-time constant)
                bm[b] = row[b] + bias[b]
            for t in range(1, full):
                o = t * STRIPES
                for b in range(STRIPES):
                    v = row[o + b] + bias[o + b]
                    bm[b] = v if v > bm[b] else bm[b]
            for j in range(full * STRIPES, D):
                b = j - full * STRIPES
                v = row[j] + bias[j]
                bm[b] = v if v > bm[b] else bm[b]
            # thr, a lower bound on the k-th largest entry, branch-free: the stripes dealt into k groups, the
            # smallest group maximum (k entries in distinct groups reach it)
            thr = np.float32(np.inf)
            for t in range(k):
                m = np.float32(-np.inf)
                for b in range(t, STRIPES, k):
                    m = bm[b] if bm[b] > m else m
                thr = m if m < thr else thr
            # a kept entry is >= thr, so its stripe's maximum is: read only those stripes, and gather their
            # entries >= thr without a branch (cand's pointer moves on by the comparison), then insert those
            c = 0
            for b in range(STRIPES):
                if bm[b] > 0 and bm[b] >= thr:
                    for j in range(b, D, STRIPES):
                        cand[c] = j
                        c += row[j] + bias[j] >= thr
            for t in range(c):
                j = cand[t]
                v = row[j] + bias[j]
                if v > topv[k - 1]:
                    _insert(v, j, topv, topj, k)
        n = 0
        while n < k and topj[n] >= 0:
            n += 1
        return n

    @njit(cache=True, nogil=True, boundscheck=False)
    def _dot(a, w):
        """a · w in four interleaved partial sums (a short dependency chain, the same order on every host)."""
        d = a.shape[0]
        s0 = s1 = s2 = s3 = np.float32(0.0)
        i = 0
        while i + 4 <= d:
            s0 += a[i] * w[i]
            s1 += a[i + 1] * w[i + 1]
            s2 += a[i + 2] * w[i + 2]
            s3 += a[i + 3] * w[i + 3]
            i += 4
        while i < d:
            s0 += a[i] * w[i]
            i += 1
        return (s0 + s1) + (s2 + s3)

    @njit(cache=True, nogil=True, boundscheck=False)
    def _kept_grads(s, n, topv, topj, g, xc, W_dec, dW_dec, dW_encT, db_enc):
        """The kept entries' gradients: ∂L/∂f_j = g · W_dec[j]; W_dec[j] += f_j g; W_encT[j] += ∂L/∂f_j xc;
        b_enc[j] += ∂L/∂f_j (the entries are positive, so ReLU passes the gradient)."""
        d = g.shape[0]
        for t in range(n):
            j = topj[t]
            v = topv[t]
            # _dot's sum written out on W_dec[s, j, :] in place: a row view per entry (W_dec[s, j]) costs numba a
            # reference count, about a millisecond per step of the benchmark's bank
            s0 = s1 = s2 = s3 = np.float32(0.0)
            for i in range(0, d, 4):  # d is a multiple of PAD
                s0 += g[i] * W_dec[s, j, i]
                s1 += g[i + 1] * W_dec[s, j, i + 1]
                s2 += g[i + 2] * W_dec[s, j, i + 2]
                s3 += g[i + 3] * W_dec[s, j, i + 3]
            dv = (s0 + s1) + (s2 + s3)
            for i in range(d):
                dW_dec[s, j, i] += v * g[i]
            for i in range(d):
                dW_encT[s, j, i] += dv * xc[i]
            db_enc[s, j] += dv

    @njit(cache=True, nogil=True, boundscheck=False)
    def _decode(s, n, topv, topj, W_dec, out):
        """out = Σ_t topv[t] W_dec[s, topj[t]] (in the entries' order)."""
        for i in range(out.shape[0]):
            out[i] = 0.0
        for t in range(n):
            j = topj[t]
            v = topv[t]
            for i in range(out.shape[0]):
                out[i] += v * W_dec[s, j, i]

    @njit(cache=True, nogil=True, boundscheck=False)
    def topk_step(s, enc, b_enc, x, b_dec, W_dec, k, aux_k, aux_coef, dead, has_aux,
                  dW_dec, dW_encT, db_enc, g_sum, loss, fired):
        """SAE ``s`` of a TopK bank: its loss and gradients from its encoder products ``enc [B, d_sae]`` ((x −
        b_dec) W_enc, the pre-activations less ``b_enc``); float32 arrays, the input dimension padded to a
        multiple of PAD, the outputs zeroed by the caller; ``loss`` float64, the sum over the batch."""
        B, D = enc.shape
        d = x.shape[1]
        kk = max(1, max(k.max(), aux_k.max()))
        bm = np.empty(STRIPES, np.float32)
        topv = np.empty(kk, np.float32)
        topj = np.empty(kk, np.int64)
        xc = np.empty(d, np.float32)
        r = np.empty(d, np.float32)
        g = np.empty(d, np.float32)
        ra = np.empty(d, np.float32)
        masked = np.empty(D, np.float32)
        cand = np.empty(D + 1, np.int64)
        scale = np.float32(2.0 / B)
        ks = k[s]
        bias = b_enc[s]
        for b in range(B):
            row = enc[b]
            n = _select(row, bias, ks, bm, topv, topj, cand)
            for t in range(n):
                fired[s, topj[t]] = True
            _decode(s, n, topv, topj, W_dec, r)
            for i in range(d):
                xc[i] = x[b, i] - b_dec[s, i]
                r[i] = (r[i] + b_dec[s, i]) - x[b, i]
                g[i] = r[i] * scale
                g_sum[s, i] += g[i]
            loss[s] += _dot(r, r)
            _kept_grads(s, n, topv, topj, g, xc, W_dec, dW_dec, dW_encT, db_enc)
            if has_aux[s]:  # AuxK: the dead latents reconstruct the residual (r passes no gradient back)
                for j in range(D):
                    masked[j] = row[j] if dead[s, j] else -np.inf
                n = _select(masked, bias, aux_k[s], bm, topv, topj, cand)
                _decode(s, n, topv, topj, W_dec, ra)
                c = aux_coef[s]
                for i in range(d):
                    ra[i] = ra[i] + r[i]
                loss[s] += c * _dot(ra, ra)
                for i in range(d):
                    ra[i] = ra[i] * scale * c
                _kept_grads(s, n, topv, topj, ra, xc, W_dec, dW_dec, dW_encT, db_enc)


def gradients_topk(bank, xc: Tensor, x: Tensor, dead: Tensor):
    """:func:`tms.sae.fast.gradients` of a TopK bank through :func:`topk_step`: ``(loss [S], grads, fired,
    kept_min)``. The input dimension is padded with zeros to a multiple of ``PAD`` (zeros add nothing to any sum
    and keep every product 0), so the kernel's loops over it are whole vectors."""
    p = bank.p
    S, B, d_in = xc.shape
    D = bank.d_sae
    pad = (lambda t: t) if d_in % PAD == 0 else (lambda t: F.pad(t, (0, PAD - d_in % PAD)))  # noqa: E731
    d = d_in + (-d_in) % PAD
    has_aux = dead.any(1) & (bank.aux_coef > 0) & (bank.aux_k > 0)
    dW_dec = torch.zeros(S, D, d)
    dW_encT = torch.zeros(S, D, d)
    db_enc = torch.zeros(S, D)
    g_sum = torch.zeros(S, d)
    loss = torch.zeros(S, dtype=torch.float64)
    fired = torch.zeros(S, D, dtype=torch.bool)
    arrays = [t.contiguous().numpy() for t in (p["b_enc"], pad(x), pad(p["b_dec"]), pad(p["W_dec"]), bank.k,
                                                bank.aux_k, bank.aux_coef, dead, has_aux)]
    outs = [t.numpy() for t in (dW_dec, dW_encT, db_enc, g_sum, loss, fired)]
    enc = torch.empty(B, D)  # one SAE's encoder products at a time: they stay in the cache for the kernel
    W_enc = bank.W_encT.transpose(1, 2)
    for s in range(S):
        torch.mm(xc[s], W_enc[s], out=enc)
        topk_step(s, enc.numpy(), *arrays, *outs)
    if d != d_in:
        dW_dec, dW_encT, g_sum = dW_dec[..., :d_in].contiguous(), dW_encT[..., :d_in].contiguous(), g_sum[:, :d_in]
    grads = {"W_dec": dW_dec, "W_encT": dW_encT, "b_enc": db_enc,
             "b_dec": g_sum - torch.einsum("sj,sjd->sd", db_enc, bank.W_encT)}
    return (loss / B).float(), grads, fired, torch.full((S,), math.inf)
