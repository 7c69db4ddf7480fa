"""The compiled TopK kernel (tms.sae.kernels, numba): its selection against torch.topk, its loss and gradients
against the torch path and autograd, on both of its selection paths (one pass below 2·STRIPES latents, stripes
above) and with the input dimension padded or not."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tms.sae import SAEConfig, SAETraining, families, fast, kernels, sources, train

pytest.importorskip("numba")


def _positive_topk(row: torch.Tensor, k: int) -> dict[int, float]:
    vals, idx = row.topk(k)
    return {int(j): float(v) for v, j in zip(vals, idx) if v > 0}


@pytest.mark.parametrize("D,k", [(D, k) for D in (5, 40, 64, 200, 400, 1000) for k in (1, 4, 17, 32, 33, 40)
                                  if k <= D])
def test_select_is_the_positive_topk(D, k):
    # k <= STRIPES with D >= 2 STRIPES takes the stripe pass, the rest one pass over every latent
    g = torch.Generator().manual_seed(D * 100 + k)
    rows = torch.randn(50, D, generator=g)
    rows[1] -= 10.0  # no positive entry
    rows[2, :] = -1.0
    rows[2, D // 2] = 3.0  # one
    rows[3] = torch.where(torch.rand(D, generator=g) < 0.05, rows[3].abs() + 0.1, -rows[3].abs())  # a few
    rows[4] = torch.where(torch.rand(D, generator=g) < 0.5, -math.inf, rows[4])  # AuxK's masked latents
    bias = 0.5 * torch.randn(D, generator=g)
    bm = np.empty(kernels.STRIPES, np.float32)
    topv, topj, cand = np.empty(k, np.float32), np.empty(k, np.int64), np.empty(D + 1, np.int64)
    for row in rows:
        n = kernels._select(row.numpy(), bias.numpy(), k, bm, topv, topj, cand)
        got = {int(topj[t]): float(topv[t]) for t in range(n)}
        assert got == _positive_topk(row + bias, k)  # the same latents and values, bit for bit
        assert list(topv[:n]) == sorted(topv[:n], reverse=True)


def test_select_ties_keep_one_of_the_tied_latents():
    # equal values: as many as fit are kept, each once (which of the tied ones is open, as for torch.topk)
    bm = np.empty(kernels.STRIPES, np.float32)
    for D in (40, 200):  # one pass, stripes
        row = np.full(D, -0.5, np.float32)
        row[[3, 17, 33]] = 2.0
        row[[5, 9]] = 1.0
        topv, topj, cand = np.empty(4, np.float32), np.empty(4, np.int64), np.empty(D + 1, np.int64)
        n = kernels._select(row, np.zeros(D, np.float32), 4, bm, topv, topj, cand)
        assert n == 4 and list(topv) == [2.0, 2.0, 2.0, 1.0]
        assert set(topj[:3]) == {3, 17, 33} and topj[3] in (5, 9)


def _bank(configs, d_in, seed=0):
    g = torch.Generator().manual_seed(seed)
    params = []
    for c in configs:
        p = families.init_params(c, d_in, g)
        p["b_enc"] = 0.2 * torch.randn(c.d_sae, generator=g)
        p["b_dec"] = 0.1 * torch.randn(d_in, generator=g)
        params.append(p)
    return fast.Bank(list(configs), params), params


@pytest.mark.parametrize("d_in,d_sae", [(30, 200), (32, 200), (7, 100), (12, 40)])
@pytest.mark.parametrize("tied", [False, True])
def test_kernel_matches_torch_path_and_autograd(d_in, d_sae, tied, monkeypatch):
    configs = [SAEConfig("topk", d_sae, k=3, tied=tied), SAEConfig("topk", d_sae, k=6, seed=1, aux_k=5, tied=tied),
               SAEConfig("topk", d_sae, k=1, seed=2, aux_coef=0.0, tied=tied)]
    bank, params = _bank(configs, d_in)
    g = torch.Generator().manual_seed(1)
    x = torch.relu(torch.randn(64, d_in, generator=g))
    x[:5] = 0.0  # samples with no active feature
    dead = torch.rand(len(configs), d_sae, generator=g) < 0.3
    dead[0] = False  # one SAE without AuxK
    assert kernels.usable("topk", bank.groups, x)
    loss, grads, fired, kept_min = fast.gradients(bank, x, dead)
    monkeypatch.setenv(kernels.ENV, "0")
    assert not kernels.usable("topk", bank.groups, x)
    loss0, grads0, fired0, _ = fast.gradients(bank, x, dead)
    torch.testing.assert_close(loss, loss0, rtol=1e-6, atol=0)
    assert torch.equal(fired, fired0) and torch.isinf(kept_min).all()
    assert set(grads) == set(grads0)
    for name in grads:
        torch.testing.assert_close(grads[name], grads0[name], rtol=1e-5, atol=1e-6, msg=name)
    for s, c in enumerate(configs):
        p = {n: t.clone().requires_grad_(True) for n, t in params[s].items()}
        ref, _ = families.eager_loss(c, p, x, dead[s])
        ref.backward()
        assert loss[s].item() == pytest.approx(ref.item(), rel=1e-5)
        want_dec = p["W_dec"].grad
        got_dec = grads["W_dec"][s] + (grads["W_encT"][s] if tied else 0)
        torch.testing.assert_close(got_dec, want_dec, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(grads["b_enc"][s], p["b_enc"].grad, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(grads["b_dec"][s], p["b_dec"].grad, rtol=1e-4, atol=1e-6)
        if not tied:
            torch.testing.assert_close(grads["W_encT"][s], p["W_enc"].grad.T, rtol=1e-4, atol=1e-6)


def test_kernel_training_is_deterministic_and_matches_the_torch_path(monkeypatch):
    src = sources.independent(60, 20, 0.05, seed=3)
    configs = [SAEConfig("topk", 120, k=k, seed=k, dead_steps=5) for k in (2, 4)]
    training = SAETraining(steps=30, batch_size=128, log_every=10)
    a, b = train(src, configs, training), train(src, configs, training)
    for x, y in zip(a, b):
        assert torch.equal(x.W_dec, y.W_dec) and torch.equal(x.W_enc, y.W_enc)
    monkeypatch.setenv(kernels.ENV, "0")
    c = train(src, configs, training)
    torch.testing.assert_close(a.log_loss, c.log_loss, rtol=1e-4, atol=1e-6)
    for x, y in zip(a, c):
        torch.testing.assert_close(x.W_dec, y.W_dec, rtol=1e-4, atol=1e-4)
        assert torch.equal(x.since_fired, y.since_fired)
