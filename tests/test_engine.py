"""The fast engine computes the paper recipe's updates (PAPER.md §0): gradients, AdamW, sampler, training.

Speed is measured in benchmarks/, never here.
"""

import functools
import json
import math
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from tms.config import Recipe, RunConfig
from tms.data import sample_features_one_draw
from tms.engines import ChunkJob, eager, fast, get_engine
from tms.errors import ConfigError
from tms.model import forward, weighted_mse
from tms.train import evaluate, initial_params, train

CPU = torch.device("cpu")


def _model_and_batch(form, activation, inst, m, n, B, seed=0, zero_importance=False):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(inst, m, n, generator=g) * 0.5
    b = torch.randn(inst, n, generator=g) * 0.2
    importance = torch.rand(inst, n, generator=g) + 0.1
    if zero_importance:
        importance[:, -1] = 0.0  # a feature that does not count in the loss (c = 0 in the engine)
    density = torch.rand(inst, n, generator=g) * 0.9 + 0.05
    x = torch.rand(inst, B, n, generator=g) * (torch.rand(inst, B, n, generator=g) < density[:, None, :])
    a = torch.rand(inst, n, generator=g) + 0.5  # any positive scale: the engine sees X' = x / a
    model = fast.make_model(W, b, importance, a, B, activation, form)
    X = torch.ones(inst, n + 1, B)
    X[:, :n] = (x / a[:, None, :]).transpose(1, 2)
    return W, b, importance, x, model, X


@pytest.mark.parametrize("form", ["gram", "hidden"])
@pytest.mark.parametrize("activation", ["relu", "linear"])
@pytest.mark.parametrize(
    "inst,m,n,B",
    [(4, 1, 2, 64), (3, 1, 1, 50), (3, 2, 5, 64), (2, 5, 20, 48), (2, 3, 40, 32), (6, 1, 2, 16)],
    ids=["2to1", "1to1", "5to2", "20to5", "40to3", "2to1-small-batch"],
)
def test_gradients_and_loss_match_autograd(form, activation, inst, m, n, B):
    W, b, importance, x, model, X = _model_and_batch(form, activation, inst, m, n, B, zero_importance=(n > 2))
    loss = model.compute_grads(X, want_loss=True)

    Wp, bp = W.clone().requires_grad_(), b.clone().requires_grad_()
    ref = weighted_mse(forward(Wp, bp, x, activation), x, importance)
    ref.sum().backward()
    torch.testing.assert_close(loss, ref.detach(), rtol=2e-5, atol=1e-8)
    torch.testing.assert_close(model.gW, Wp.grad, rtol=2e-5, atol=1e-8)
    torch.testing.assert_close(model.gb, bp.grad, rtol=2e-5, atol=1e-8)
    assert Wp.grad.abs().max() > 1e-4  # the comparison is not between two zeros


def _untied_matches_autograd(model, loss, params, x, importance):
    """Assert ``model``'s loss and gradients (already computed) equal autograd's on the untied family; return the
    reference parameters with their gradients."""
    from tms.model import get_family

    ref_params = {k: v.clone().requires_grad_() for k, v in params.items()}
    ref = get_family("untied-abs").loss(ref_params, x, importance)
    ref.sum().backward()
    torch.testing.assert_close(loss, ref.detach(), rtol=2e-5, atol=1e-8)
    grads = model.unpack(model.gtheta)
    for name, p in ref_params.items():
        torch.testing.assert_close(grads[name], p.grad, rtol=2e-5, atol=1e-8)
    return ref_params


@pytest.mark.parametrize("inst,m,n,B", [(3, 6, 3, 64), (2, 40, 100, 48), (4, 3, 10, 16), (2, 1, 1, 32)],
                         ids=["3to6", "100to40", "10to3", "1to1"])
def test_untied_gradients_and_loss_match_autograd(inst, m, n, B):
    # §8's model y' = ReLU(W2 ReLU(W1 x) + b) with target |x| on signed inputs, x = a X' with any positive a

    g = torch.Generator().manual_seed(5)
    params = {"W1": torch.randn(inst, m, n, generator=g) * 0.5, "W2": torch.randn(inst, n, m, generator=g) * 0.5,
              "b": torch.randn(inst, n, generator=g) * 0.2}
    importance = torch.rand(inst, n, generator=g) + 0.1
    importance[:, -1] = 0.0 if n > 1 else importance[:, -1]
    x = (torch.rand(inst, B, n, generator=g) * 2 - 1) * (torch.rand(inst, B, n, generator=g) < 0.6)
    a = torch.rand(inst, n, generator=g) + 0.5
    model = fast.build_model(params, importance, a, B, "untied-abs")
    X = torch.ones(inst, n + 1, B)
    X[:, :n] = (x / a[:, None, :]).transpose(1, 2)
    ref_params = _untied_matches_autograd(model, model.compute_grads(X, want_loss=True), params, x, importance)
    for name, p in ref_params.items():
        assert p.grad.abs().max() > 1e-4, name  # not a comparison between two zeros
    assert fast.choose_form(n, m, "untied-abs") == "untied"
    with pytest.raises(ConfigError, match="W2"):
        fast.UntiedModel(params["W1"], params["W2"][:, :, :0], params["b"], importance, a, B)


def test_untied_compact_batches_match_autograd():
    # a sparsely drawn part: each instance computes on its samples with an active feature only, the empty ones
    # (x = 0: output ReLU(b), target 0) in closed form; instance 2 has no active element at all

    inst, m, n, B = 3, 6, 8, 64
    g = torch.Generator().manual_seed(8)
    params = {"W1": torch.randn(inst, m, n, generator=g) * 0.5, "W2": torch.randn(inst, n, m, generator=g) * 0.5,
              "b": torch.randn(inst, n, generator=g) * 0.3}  # both signs: the empty samples' ReLU matters
    importance = torch.rand(inst, n, generator=g) + 0.1
    density = torch.tensor([0.1, 0.02, 0.0])[:, None]
    x = (torch.rand(inst, B, n, generator=g) * 2 - 1) * (torch.rand(inst, B, n, generator=g) < density[:, None])
    assert 0 < (x[0] != 0).any(dim=1).sum() < B and not x[2].any()
    model = fast.build_model(params, importance, torch.ones(inst, n), B, "untied-abs", sparse_encoder=True)
    X = torch.ones(inst, n + 1, B)
    X[:, :n] = x.transpose(1, 2)
    i, f, b = (X[:, :n] != 0).nonzero(as_tuple=True)
    loss = model.compute_grads_sparse(X, i * B + b, i * n + f, X[i, f, b], want_loss=True)
    ref_params = _untied_matches_autograd(model, loss, params, x, importance)
    assert ref_params["b"].grad[2].abs().max() > 1e-3  # the all-empty instance still moves its bias
    # the dense path on the same batch: the same numbers
    dense = fast.build_model(params, importance, torch.ones(inst, n), B, "untied-abs")
    torch.testing.assert_close(dense.compute_grads(X, want_loss=True), loss, rtol=2e-5, atol=1e-8)
    torch.testing.assert_close(dense.gtheta, model.gtheta, rtol=2e-5, atol=1e-8)


@pytest.mark.parametrize("inst,m,n,B", [(3, 5, 10, 64), (2, 2, 5, 48), (2, 3, 40, 32)], ids=["10to5", "5to2", "40to3"])
def test_hidden_relu_gradients_and_loss_match_autograd(inst, m, n, B):
    # §7's model, h = ReLU(W x), x' = ReLU(Wᵀ h + b): the hidden form with the hidden ReLU's mask
    W, b, importance, x, model, X = _model_and_batch("hidden", "hidden-relu", inst, m, n, B, zero_importance=True)
    loss = model.compute_grads(X, want_loss=True)
    Wp, bp = W.clone().requires_grad_(), b.clone().requires_grad_()
    ref = weighted_mse(forward(Wp, bp, x, "hidden-relu"), x, importance)
    ref.sum().backward()
    torch.testing.assert_close(loss, ref.detach(), rtol=2e-5, atol=1e-8)
    torch.testing.assert_close(model.gW, Wp.grad, rtol=2e-5, atol=1e-8)
    torch.testing.assert_close(model.gb, bp.grad, rtol=2e-5, atol=1e-8)
    # the hidden ReLU matters: the tied ReLU model's gradient is another one
    Wq, bq = W.clone().requires_grad_(), b.clone().requires_grad_()
    weighted_mse(forward(Wq, bq, x, "relu"), x, importance).sum().backward()
    assert not torch.allclose(Wq.grad, Wp.grad, rtol=1e-3)
    assert fast.choose_form(n, m, "hidden-relu") == "hidden"
    with pytest.raises(ConfigError, match="gram form"):
        fast.make_model(W, b, importance, torch.ones(inst, n), B, "hidden-relu", "gram")


def test_broadcast_forward_path_matches_bmm():
    # Tiny batches take broadcast passes instead of bmm for the forward product; both are the same math.
    _, _, _, _, model, X = _model_and_batch("gram", "relu", 5, 1, 2, 32)
    assert model.broadcast_zd
    loss_a = model.compute_grads(X, want_loss=True)
    g_a = model.gtheta.clone()
    model.broadcast_zd = False
    loss_b = model.compute_grads(X, want_loss=True)
    torch.testing.assert_close(g_a, model.gtheta, rtol=1e-5, atol=1e-9)
    torch.testing.assert_close(loss_a, loss_b, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("fused", [True, False], ids=["fused-kernel", "written-out"])
@pytest.mark.parametrize("optimizer", ["adamw", "adam", "sgd"])
def test_optimizer_updates_match_torch_optim(fused, optimizer):
    recipe = Recipe(lr=3e-3, weight_decay=0.05, optimizer=optimizer, momentum=0.8)
    g = torch.Generator().manual_seed(0)
    theta0 = torch.randn(37, generator=g)
    ours = theta0.clone()
    grad = torch.zeros_like(ours)
    opt = fast.FusedOptimizer(ours, grad, recipe)
    if not fused:
        opt.fused = False
    elif not opt.fused:
        pytest.skip(f"this torch build has no fused {optimizer} kernel for the CPU")
    ref = torch.nn.Parameter(theta0.clone())
    ref_opt = eager.make_optimizer([ref], recipe)
    assert type(ref_opt).__name__ == {"adamw": "AdamW", "adam": "Adam", "sgd": "SGD"}[optimizer]
    for _ in range(3):  # several steps: the bias corrections and the momentum change with the step count
        step_grad = torch.randn(37, generator=g) * 1e-2
        grad.copy_(step_grad)
        opt.step()
        ref.grad = step_grad.clone()
        ref_opt.step()
        torch.testing.assert_close(ours, ref.detach(), rtol=1e-6, atol=1e-7)
    state = ref_opt.state[ref]
    if optimizer == "sgd":
        torch.testing.assert_close(opt.exp_avg, state["momentum_buffer"], rtol=1e-6, atol=1e-9)
    else:
        torch.testing.assert_close(opt.exp_avg, state["exp_avg"], rtol=1e-6, atol=1e-9)
        torch.testing.assert_close(opt.exp_avg_sq, state["exp_avg_sq"], rtol=1e-6, atol=1e-12)
    assert not torch.equal(ours, theta0)


def _check_paper_distribution(x: torch.Tensor, p: float) -> None:
    """x: samples of one feature with density p. PAPER.md §0: 0 w.p. 1 - p, else U[0, 1]."""
    n = x.numel()
    assert x.min() >= 0 and x.max() <= 1 + 2e-7  # U[0, 1], up to one float32 rounding at the top
    active = x[x > 0].double()
    k = active.numel()
    # Five standard errors, from the sample size: a correct sampler fails about once in 10^6 runs.
    assert abs(k / n - p) <= 5 * math.sqrt(p * (1 - p) / n) + 1 / n
    assert abs(active.mean().item() - 0.5) <= 5 * math.sqrt((1 / 12) / k)
    assert abs(active.var().item() - 1 / 12) <= 5 * math.sqrt((1 / 80 - 1 / 144) / k)
    # and uniform on [0, 1]: 10 equal bins, each within 5 standard errors of k / 10
    counts = torch.histc(active, bins=10, min=0.0, max=1.0)
    assert (counts - k / 10).abs().max() <= 5 * math.sqrt(k * 0.1 * 0.9)


DENSITIES = [1.0, 0.5, 0.05, 0.002]
SPARSE_DENSITIES = [0.3, 0.05, 0.01, 0.002]  # the sparse sampler's math holds for any p < 1


@pytest.mark.parametrize("sampler", ["fast-engine", "fast-engine-sparse", "tms.data.one_draw"])
def test_one_draw_samplers_have_the_paper_distribution(sampler):
    # Two instances with the densities in different orders, so a broadcast mix-up would show.
    densities = SPARSE_DENSITIES if sampler == "fast-engine-sparse" else DENSITIES
    density = torch.tensor([densities, densities[::-1]])
    g = torch.Generator().manual_seed(123)
    batch = 1 << 20
    draw = {"fast-engine": fast.sample_features, "tms.data.one_draw": sample_features_one_draw,
            "fast-engine-sparse": functools.partial(fast.sample_features, sparse=True)}[sampler]
    x = draw(density, batch, g)  # [inst, batch, feat]
    assert x.shape == (2, batch, len(densities))
    for i in range(2):
        for f in range(len(densities)):
            _check_paper_distribution(x[i, :, f], density[i, f].item())
    # Features are independent of each other: P(both active) = p1 p2 for the two densest ones,
    p1, p2 = densities[:2]
    both = ((x[0, :, 0] > 0) & (x[0, :, 1] > 0)).double().mean().item()
    assert abs(both - p1 * p2) <= 5 * math.sqrt(p1 * p2 * (1 - p1 * p2) / batch)
    # and so are neighbouring samples of one feature (the sparse sampler places hits along a row).
    pair = ((x[0, :-1, 1] > 0) & (x[0, 1:, 1] > 0)).double().mean().item()
    assert abs(pair - p2 * p2) <= 5 * math.sqrt(p2 * p2 * (1 - p2 * p2) / batch)
    # and the fast sampler's next batch is a fresh one
    if sampler != "tms.data.one_draw":
        assert not torch.equal(x, draw(density, batch, g))


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_signed_samplers_draw_zero_or_uniform_on_minus_one_one(sparse):
    # data 'signed' (PAPER.md §8): 0 with probability 1 - p, else U[-1, 1], independently
    densities = SPARSE_DENSITIES if sparse else DENSITIES
    density = torch.tensor([densities, densities[::-1]])
    batch = 1 << 20
    x = fast.sample_features(density, batch, torch.Generator().manual_seed(9), sparse=sparse, signed=True)
    for i in range(2):
        for f in range(len(densities)):
            p, v = density[i, f].item(), x[i, :, f]
            active = v[v != 0]
            k = active.numel()
            assert abs(k / batch - p) <= 5 * math.sqrt(p * (1 - p) / batch) + 1 / batch
            assert -1 <= active.min() and active.max() < 1
            # U[-1, 1]: mean 0, variance 1/3, 10 equal bins
            assert abs(active.mean().item()) <= 5 * math.sqrt((1 / 3) / k)
            assert abs(active.var().item() - 1 / 3) <= 5 * math.sqrt((1 / 5 - 1 / 9) / k)
            counts = torch.histc(active, bins=10, min=-1.0, max=1.0)
            assert (counts - k / 10).abs().max() <= 5 * math.sqrt(k * 0.1 * 0.9)
    p1, p2 = densities[:2]
    both = ((x[0, :, 0] != 0) & (x[0, :, 1] != 0)).double().mean().item()
    assert abs(both - p1 * p2) <= 5 * math.sqrt(p1 * p2 * (1 - p1 * p2) / batch)


def test_sparse_sampler_blocks_hold_each_step_in_its_own_rows():
    density = torch.tensor([[0.05, 0.01, 0.002], [0.001, 0.02, 0.04]])
    sampler = fast.SparseSampler(density, fast.RawBits(torch.Generator().manual_seed(1), CPU), 512)
    index, value, offsets = sampler.draw_block(400)
    assert offsets[0] == 0 and offsets[-1] == index.numel() == value.numel() and (offsets.diff() >= 0).all()
    row = index // 512  # rows of X = [X'; 1]: instance i, feature f at row i * 4 + f; row 3 and 7 hold the ones
    assert not ((row % 4) == 3).any() and row.max() < 8
    # hits per row and step: Poisson(-B ln(1 - p)), mean within 5 standard errors over 400 steps
    lam = -512 * torch.log1p(-density.double())
    for i in range(2):
        for f in range(3):
            k = (row == i * 4 + f).sum().item()
            expected = 400 * lam[i, f].item()
            assert abs(k - expected) <= 5 * math.sqrt(expected)
    assert 0 <= value.min() and value.max() < 1


@pytest.fixture
def one_thread():
    # Numbers, not speed: one thread keeps the eager reference quick on a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("densities,model,sets,optimizer", [
    ([1.0, 0.3, 0.1], "relu", (), "adamw"), ([0.05, 0.02, 0.01], "relu", (), "adamw"),
    ([1.0, 0.3, 0.1], "hidden-relu", (), "adamw"), ([0.05, 0.02, 0.01], "hidden-relu", (), "adamw"),
    ([0.3, 0.1, 0.05], "relu", ("correlated:0,1", "anticorrelated:2,3"), "adamw"),
    ([1.0, 0.3, 0.1], "untied-abs", (), "adamw"), ([0.05, 0.02, 0.01], "untied-abs", (), "adamw"),
    ([1.0, 0.3, 0.1], "relu", (), "adam"), ([1.0, 0.3, 0.1], "relu", (), "sgd"),
], ids=["dense", "sparse-sampler", "hidden-relu-dense", "hidden-relu-sparse", "feature-sets", "untied-signed",
        "untied-signed-sparse", "adam", "sgd"])
def test_fast_and_eager_train_to_the_same_loss_within_seed_noise(one_thread, densities, model, sets, optimizer):
    # Mid-training (not converged), so a wrong gradient, learning rate or decay would show in the loss.
    # (the untied model learns |x| of rare inputs slowly, SGD slower still: larger steps move them as far in 500)
    lr = {"untied-abs": 3e-3}.get(model, 0.1 if optimizer == "sgd" else 1e-3)
    recipe = Recipe(steps=500, batch_size=256, log_every=100, eval_batches=8, lr=lr, optimizer=optimizer)
    data = "sets" if sets else "signed" if model == "untied-abs" else "independent"
    cfg = RunConfig.uniform(5, 2, densities, 0.9, restarts=4, recipe=recipe, seed=7, model=model,
                            data=data, feature_sets=sets)
    assert all(fast.sparse_instances(torch.tensor(cfg.instance_density()), CPU)) == (densities[0] < 0.1)
    params0 = initial_params(cfg)
    density = torch.tensor(cfg.instance_density())
    importance = torch.tensor(cfg.instance_importance())

    def run(engine_fn, data_seed):
        job = ChunkJob(params={k: v.clone() for k, v in params0.items()}, importance=importance, density=density,
                       model=cfg.model, data=cfg.data, feature_sets=cfg.feature_sets, recipe=recipe,
                       generator=torch.Generator().manual_seed(data_seed))
        engine_fn(job)
        return evaluate(cfg, job.params, CPU)

    start = evaluate(cfg, params0, CPU)
    eager_a, eager_b = run(eager.train_chunk, 1), run(eager.train_chunk, 2)
    fast_c = run(fast.train_chunk, 3)
    seed_noise = (eager_a - eager_b).abs().mean()
    assert (fast_c < 0.9 * start).all()  # it trained
    # Fast vs eager is one more pair of independent data streams: its gap should look like the seed noise.
    # (Measured: a correct engine gives 1.0-1.7 x the noise here; lr off by 20 %, beta2 = 0.99, densities
    # off by 20 % or one importance off by 30 % give 5-34 x.)
    assert (fast_c - eager_a).abs().mean() <= 3 * seed_noise + 1e-6
    assert abs(fast_c.mean() - eager_a.mean()) <= 3 * seed_noise + 1e-6


def _train_chunk(W, b, importance, density, recipe, seed, model="relu", threads=1):
    logs: dict[int, torch.Tensor] = {}
    steps = [0]
    job = ChunkJob(params={"W": W, "b": b}, importance=importance, density=density, model=model,
                   data="independent", recipe=recipe, generator=torch.Generator().manual_seed(seed),
                   on_log=lambda step, loss: logs.__setitem__(step, loss.clone()),
                   on_steps=lambda k: steps.__setitem__(0, steps[0] + k), threads=threads)
    fast.train_chunk(job)
    return logs, steps[0]


def _compiled_and_plain(monkeypatch, W0, importance, density, recipe):
    """(W, b, logs) trained from W0 by the TorchScript-compiled step loop and by the plain one, same seed."""
    runs = []
    for plain in (False, True):
        monkeypatch.setenv(fast.SCRIPT_ENV, "1" if plain else "0")
        W, b = W0.clone(), torch.zeros(W0.shape[0], W0.shape[2])
        logs, _ = _train_chunk(W, b, importance, density, recipe, seed=4)
        runs.append((W, b, logs))
    assert not fast.loop._SCRIPT_FAILURE, fast.loop._SCRIPT_FAILURE
    return runs


@pytest.mark.parametrize("split", ["parts", "one-part", "mixed-parts", "sparse-one-part"])
@pytest.mark.parametrize("shape", [(6, 2, 5), (12, 1, 2), (4, 6, 30)], ids=["gram", "2to1", "hidden"])
def test_engine_contract_and_determinism(shape, split, monkeypatch):
    # "parts": small parts, trained by worker threads when there are two; "one-part": one part, whose
    # batches a helper thread draws ahead when there are two (the run is longer than one block of steps);
    # "mixed-parts": the sparse half of the instances drawn by SparseSampler, parts balanced by cost;
    # "sparse-one-part": one part drawn by SparseSampler.
    B = 256 if split in ("mixed-parts", "sparse-one-part") else 64  # enough active features for a loss
    if split.endswith("one-part"):
        monkeypatch.setattr(fast.parallel, "PIPELINE_BLOCK_ELEMENTS", 3 * B * 30)
    else:
        monkeypatch.setattr(fast.parallel, "PART_ELEMENTS", 3 * B * 2)
    inst, m, n = shape
    recipe = Recipe(steps=23, batch_size=B, log_every=10)
    assert (len(fast.split_parts(inst, n * B, CPU)) == 1) == split.endswith("one-part")
    g = torch.Generator().manual_seed(0)
    W0 = torch.randn(inst, m, n, generator=g) * 0.3
    density = (torch.rand(1, n, generator=g) * 0.5 + 0.05).expand(inst, n).contiguous()
    if split == "mixed-parts":
        density[inst // 2:] = 0.04
        assert sum(fast.sparse_instances(density, CPU)) == inst - inst // 2
    if split == "sparse-one-part":
        density[:] = 0.04
    # Importance 10^k (1000^k with 20x sparser halves) for instance k: the logged losses must come back in
    # instance order.
    base = 1000.0 if split in ("mixed-parts", "sparse-one-part") else 10.0
    importance = (base ** torch.arange(inst, dtype=torch.float64))[:, None].expand(inst, n).float().contiguous()
    # The step loop's ops run on one thread whatever the caller's setting: with the caller at 2 threads a run
    # at threads=1 must still compute every op single-threaded (bmm and reductions may round differently with
    # more threads on some CPUs: on an AMD EPYC host W differed by 1.5e-8 between the two).
    seen_threads = []
    real_make_model = fast.parallel.build_model

    def recording_make_model(*args, **kwargs):
        seen_threads.append(torch.get_num_threads())
        return real_make_model(*args, **kwargs)

    monkeypatch.setattr(fast.parallel, "build_model", recording_make_model)
    caller = torch.get_num_threads()
    runs = []
    try:
        torch.set_num_threads(2)
        for threads in (1, 2, 3):
            W, b = W0.clone(), torch.zeros(inst, n)
            logs, steps = _train_chunk(W, b, importance, density, recipe, seed=5, threads=threads)
            assert sorted(logs) == [10, 20, 23] and steps == 23
            assert all(v.shape == (inst,) and torch.isfinite(v).all() for v in logs.values())
            assert (logs[23][1:] > 3 * logs[23][:-1]).all()
            assert not torch.equal(W, W0)
            assert torch.get_num_threads() == 2  # the caller's setting is left as it was
            runs.append((W, b, logs[23]))
    finally:
        torch.set_num_threads(caller)
    assert seen_threads and set(seen_threads) == {1}
    # Same seed, same numbers, however many threads trained it.
    for W, b, loss in runs[1:]:
        assert torch.equal(runs[0][0], W) and torch.equal(runs[0][1], b) and torch.equal(runs[0][2], loss)
    W, b = W0.clone(), torch.zeros(inst, n)
    _train_chunk(W, b, importance, density, recipe, seed=6)
    assert not torch.equal(W, runs[0][0])


def test_an_interrupted_chunk_stops_its_workers(monkeypatch):
    # Ctrl-C in the calling thread stops the parts within a block, instead of waiting for them to finish.
    import signal
    import threading
    import time

    # A process started in the background by a shell ignores SIGINT, and interrupt_main then does nothing:
    # Python's own handler is what turns the simulated Ctrl-C into KeyboardInterrupt.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)

    monkeypatch.setattr(fast.parallel, "PART_ELEMENTS", 3 * 64 * 2)
    started = threading.Event()
    real = fast.parallel.compile_trainer

    def slow_compile(trainer):
        compiled = real(trainer)

        def step(*args):
            started.set()
            time.sleep(0.05)
            return compiled(*args)

        step.forward_sparse = compiled.forward_sparse
        return step

    monkeypatch.setattr(fast.parallel, "compile_trainer", slow_compile)
    monkeypatch.setattr(fast.parallel, "BLOCK_ELEMENTS", 64 * 5 * 3)  # one step per block
    W, b = torch.randn(12, 2, 5), torch.zeros(12, 5)
    recipe = Recipe(steps=10_000, batch_size=64)

    def interrupt():
        started.wait(10)
        import _thread

        _thread.interrupt_main()

    threading.Thread(target=interrupt).start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            _train_chunk(W, b, torch.ones(12, 5), torch.full((12, 5), 0.5), recipe, seed=1, threads=2)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert time.perf_counter() - t0 < 5  # 10 000 steps at 50 ms would take minutes
    assert not [t for t in threading.enumerate() if t.name.startswith("tms-worker")]


def test_split_parts_covers_every_instance_once():
    for inst, per in [(1, 10**6), (400, 2048), (20, 204800), (7, 20480), (10, 5120), (1_000_003, 64)]:
        parts = fast.split_parts(inst, per, CPU)
        assert parts[0][0] == 0 and parts[-1][1] == inst
        assert all(lo < hi for lo, hi in parts) and all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
        if len(parts) > 1:
            assert max(hi - lo for lo, hi in parts) * per <= fast.PART_ELEMENTS + per
            assert len(parts) & (len(parts) - 1) == 0 or len(parts) == inst
        # chunks from SPLIT_MIN_ELEMENTS on are shared out over two cores or more (the §2 config: 7 x 20 x 1024)
        assert (len(parts) >= 2) == (inst >= 2 and inst * per >= fast.SPLIT_MIN_ELEMENTS)
    assert fast.split_parts(7, 20 * 1024, CPU) == [(0, 4), (4, 7)]
    # the §2 config: densities 1 ... 0.001, the last four drawn sparsely, which costs about half
    density = torch.tensor([1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001])[:, None].expand(7, 20)
    assert fast.sparse_instances(density, CPU) == [False] * 3 + [True] * 4
    assert fast.sparse_instances(density, torch.device("cuda")) == [False] * 7
    assert fast.split_parts(7, 20 * 1024, CPU, [1, 1, 1, 0.5, 0.5, 0.5, 0.5]) == [(0, 3), (3, 7)]
    assert fast.split_parts(8, 2 * 1 << 18, CPU, [1, 0.5] * 4) == [(k, k + 1) for k in range(8)]
    # costs that would leave a part mixed (drawn densely, all of it) are not used: the §3 grid's order
    assert fast.split_parts(400, 2048, CPU, [1.0] * 260 + [0.5] * 140) == [(0, 200), (200, 400)]
    # a part always keeps one instance, however the cost piles up at the end
    assert fast.split_parts(6, 1 << 18, CPU, [0.5] * 5 + [3]) == [(0, 3), (3, 4), (4, 5), (5, 6)]
    assert fast.split_parts(10, 5 * 1024, CPU) == [(0, 10)]  # the intro config stays one part


@pytest.mark.parametrize("shape", [(6, 2, 5), (4, 6, 30)], ids=["gram", "hidden"])
@pytest.mark.parametrize("split", ["parts", "one-part", "sparse-parts", "sparse-one-part"])
def test_compiled_step_loop_gives_the_same_numbers_as_plain_python(shape, split, monkeypatch):
    # TorchScript runs the same ops in the same order: the two must agree bit for bit.
    if split.endswith("-parts") or split == "parts":
        monkeypatch.setattr(fast.parallel, "PART_ELEMENTS", 3 * 64 * 2)
    inst, m, n = shape
    recipe = Recipe(steps=25, batch_size=64, log_every=10)
    g = torch.Generator().manual_seed(3)
    W0 = torch.randn(inst, m, n, generator=g) * 0.3
    density = torch.rand(inst, n, generator=g) * 0.5 + 0.05
    if split.startswith("sparse"):
        density = density / 12 - 0.004  # 0.0002 ... 0.042: every part draws sparsely
        assert all(fast.sparse_instances(density, CPU))
    importance = torch.rand(inst, n, generator=g) + 0.1
    (Wc, bc, lc), (Wp, bp, lp) = _compiled_and_plain(monkeypatch, W0, importance, density, recipe)
    assert not torch.equal(Wc, W0)
    assert torch.equal(Wc, Wp) and torch.equal(bc, bp)
    assert sorted(lc) == sorted(lp) == [10, 20, 25] and all(torch.equal(lc[k], lp[k]) for k in lc)


def _part_trainer(inst=3, m=2, n=5, B=32):
    W, b = torch.randn(inst, m, n) * 0.3, torch.zeros(inst, n)
    sampler = fast.FeatureSampler(torch.full((inst, n), 0.3), fast.RawBits(torch.Generator().manual_seed(0), CPU))
    model = fast.make_model(W, b, torch.ones(inst, n), sampler.a, B, "relu")
    return fast.PartTrainer(model, fast.FusedAdamW(model.theta, model.gtheta, Recipe()), sampler.T), sampler


def test_step_loop_compiles_from_two_threads_at_once():
    # TorchScript's compiler is not thread-safe: two worker threads compiling their first part at the same
    # moment used to fail ("Can't redefine method"), silently leaving the whole process uncompiled and ~2x slower.
    import threading

    barrier = threading.Barrier(4)
    out = [None] * 4

    def go(k):
        trainer, _ = _part_trainer(inst=2 + k)
        barrier.wait()
        out[k] = fast.compile_trainer(trainer)

    threads = [threading.Thread(target=go, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not fast.loop._SCRIPT_FAILURE, fast.loop._SCRIPT_FAILURE
    assert all(isinstance(t, torch.jit.ScriptModule) for t in out)
    # and the compiled module updates the very tensors the plain one holds (no copies)
    trainer, sampler = _part_trainer()
    compiled = fast.compile_trainer(trainer)
    before = trainer.model.theta.clone()
    # steps 1-3, logging every 2nd and the last, a snapshot after step 2
    losses, snaps = compiled(sampler.draw_words((3, 3, 5, 32)), 1, 2, 3, [2])
    assert len(losses) == 2 and float(trainer.opt.step_t) == 3.0
    assert len(snaps) == 1 and not torch.equal(snaps[0], trainer.model.theta)
    assert (trainer.model.gW != 0).any() and not torch.equal(trainer.model.theta, before)


def test_auto_engine_is_the_fast_one():
    engine = get_engine("auto")
    assert engine.name == "fast" and engine.supports("relu", "independent") and engine.supports("linear", "independent")


def test_a_million_models_train_in_bounded_memory():
    # 10^6 models 2 -> 1 at batch 32: one unchunked batch tensor alone would be 10^6 * 32 * 2 * 4 B = 256 MB
    # (and a step holds several). Chunked, the whole run stays well below that above the start.
    script = textwrap.dedent("""
        import json, sys
        from tms.config import Recipe, RunConfig
        from tms.train import train

        def rss_mb(key):
            for line in open("/proc/self/status"):
                if line.startswith(key):
                    return int(line.split()[1]) / 1024

        cfg = RunConfig.uniform(2, 1, [0.05], recipe=Recipe(steps=3, batch_size=32, eval_batches=1),
                                restarts=1_000_000)
        before = rss_mb("VmRSS")
        res = train(cfg, engine="fast", device="cpu")
        print(json.dumps({"before": before, "peak": rss_mb("VmHWM"), "n": res.W.shape[0],
                          "finite": bool(res.final_loss.isfinite().all())}))
    """)
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc to read the peak memory")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["n"] == 1_000_000 and r["finite"]
    assert r["peak"] - r["before"] < 350, r


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_autograd_and_trains():
    dev = torch.device("cuda")
    for form, shape in [("gram", (3, 2, 5)), ("hidden", (2, 5, 40))]:
        W, b, importance, x, model, X = _model_and_batch(form, "relu", *shape, 64)
        cuda_model = fast.make_model(W.to(dev), b.to(dev), importance.to(dev), model.a.to(dev), 64, "relu", form)
        cuda_model.compute_grads(X.to(dev))
        model.compute_grads(X)
        torch.testing.assert_close(cuda_model.gtheta.cpu(), model.gtheta, rtol=1e-4, atol=1e-7)
    cfg = RunConfig.uniform(5, 2, [1.0, 0.1], 0.9, recipe=Recipe(steps=300, batch_size=256, eval_batches=2))
    res = train(cfg, engine="fast", device="cuda")
    assert res.device.startswith("cuda") and (res.final_loss < evaluate(cfg, initial_params(cfg), CPU)).all()


def _sparse_hits(model, sampler, trainer_like=None):
    """One step's active elements as PartTrainer.forward_sparse locates them (weights 0 for elements hit twice
    but the last time)."""
    index, value, _ = sampler.draw_block(1)
    inst, n, B = model.inst, model.n, model.B
    X = torch.zeros(inst, n + 1, B)
    X[:, n] = 1.0
    X.view(-1).index_put_((index,), value)
    hit_ids = torch.empty(X.numel(), dtype=torch.long)
    ids = torch.arange(index.numel())
    hit_ids.index_put_((index,), ids)
    weights = value * (hit_ids.index_select(0, index) == ids)
    row = index // B
    i = row // (n + 1)
    return X, i * B + (index - row * B), i * n + (row - i * (n + 1)), weights, int((weights == 0).sum())


@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_sparse_encoder_gradients_match_autograd(activation):
    # A wide, sparse part: h = W x and (dL/dh) x^T summed over the active elements, elements hit twice included.
    inst, m, n, B = 3, 5, 320, 256
    g = torch.Generator().manual_seed(2)
    W = torch.randn(inst, m, n, generator=g) * 0.3
    b = torch.randn(inst, n, generator=g) * 0.1
    importance = torch.rand(inst, n, generator=g) + 0.1
    density = torch.full((inst, n), 0.006)
    assert fast.uses_sparse_encoder(density, True) and not fast.uses_sparse_encoder(density * 3, True)
    sampler = fast.SparseSampler(density, fast.RawBits(g, CPU), B)
    model = fast.make_model(W, b, importance, sampler.a, B, activation, sparse_encoder=True)
    duplicates = 0
    for _ in range(3):
        X, hit_h, hit_w, weights, dup = _sparse_hits(model, sampler)
        duplicates += dup
        loss = model.compute_grads_sparse(X, hit_h, hit_w, weights, want_loss=True)
        x = X[:, :n].transpose(1, 2)
        Wp, bp = W.clone().requires_grad_(), b.clone().requires_grad_()
        ref = weighted_mse(forward(Wp, bp, x, activation), x, importance)
        ref.sum().backward()
        torch.testing.assert_close(loss, ref.detach(), rtol=2e-5, atol=1e-9)
        torch.testing.assert_close(model.gW, Wp.grad, rtol=2e-5, atol=1e-9)
        torch.testing.assert_close(model.gb, bp.grad, rtol=2e-5, atol=1e-9)
        assert Wp.grad.abs().max() > 1e-4
    assert duplicates > 0  # the case of an element hit twice was exercised


def test_sparse_encoder_trains_like_the_eager_reference(one_thread):
    # 320 features at p = 0.005 (1.6 active per sample): the sparse encoder's run against two eager runs.
    recipe = Recipe(steps=300, batch_size=256, lr=0.02, log_every=100, eval_batches=16)
    cfg = RunConfig.uniform(320, 8, [0.005], 0.98, restarts=4, recipe=recipe, seed=3)
    density = torch.tensor(cfg.instance_density())
    assert fast.uses_sparse_encoder(density, all(fast.sparse_instances(density, CPU)))
    params0 = initial_params(cfg)
    importance = torch.tensor(cfg.instance_importance())

    def run(engine_fn, data_seed):
        job = ChunkJob(params={k: v.clone() for k, v in params0.items()}, importance=importance, density=density,
                       model="relu", data="independent", recipe=recipe, generator=torch.Generator().manual_seed(data_seed))
        engine_fn(job)
        return evaluate(cfg, job.params, CPU)

    start = evaluate(cfg, params0, CPU)
    eager_a, eager_b = run(eager.train_chunk, 1), run(eager.train_chunk, 2)
    fast_c = run(fast.train_chunk, 3)
    noise = (eager_a - eager_b).abs().mean()
    assert (start - fast_c).min() > 10 * noise  # it trained, by far more than the seed noise
    assert (fast_c - eager_a).abs().mean() <= 3 * noise + 1e-7


def test_sparse_encoder_loop_compiled_equals_plain(monkeypatch):
    inst, m, n = 2, 4, 320
    recipe = Recipe(steps=12, batch_size=128, log_every=5)
    g = torch.Generator().manual_seed(5)
    W0 = torch.randn(inst, m, n, generator=g) * 0.3
    density = torch.full((inst, n), 0.004)
    importance = torch.rand(inst, n, generator=g) + 0.1
    (Wc, bc, lc), (Wp, bp, lp) = _compiled_and_plain(monkeypatch, W0, importance, density, recipe)
    assert not torch.equal(Wc, W0) and torch.equal(Wc, Wp) and torch.equal(bc, bp)
    assert all(torch.equal(lc[k], lp[k]) for k in lc)


def test_workers_join_a_thread_the_executor_lost_track_of(monkeypatch):
    # Ctrl-C between a thread's start and the executor's note of it leaves the executor's own join without it
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from tms.engines.threads import Stopped, Workers

    real = ThreadPoolExecutor._adjust_thread_count

    running = threading.Event()

    def forgetful(self):
        real(self)
        assert running.wait(10)
        self._threads.clear()  # as if interrupted before ``self._threads.add(t)``, the task already running
        raise KeyboardInterrupt

    monkeypatch.setattr(ThreadPoolExecutor, "_adjust_thread_count", forgetful)
    workers = Workers(1, 1, name="tms-forgetful")
    finished = []

    def task():
        running.set()
        while True:
            time.sleep(0.01)
            try:
                workers.check()
            except Stopped:
                time.sleep(0.2)  # a block still finishing when the caller gives up
                finished.append(True)
                raise

    with pytest.raises(KeyboardInterrupt):
        workers.run([task])
    assert finished == [True]
    assert not [t for t in threading.enumerate() if t.name.startswith("tms-forgetful")]


@pytest.mark.parametrize("steps, trims", [(fast.parallel.TRIM_MIN_STEPS - 1, 0), (fast.parallel.TRIM_MIN_STEPS, 2)])
def test_long_parts_hand_their_memory_back(monkeypatch, steps, trims):
    calls = []
    monkeypatch.setattr(fast.parallel, "release_memory", lambda: calls.append(1))
    monkeypatch.setattr(fast.parallel, "PART_ELEMENTS", 3 * 32 * 5)  # 6 instances: two parts
    W, b = torch.randn(6, 2, 5) * 0.3, torch.zeros(6, 5)
    _train_chunk(W, b, torch.ones(6, 5), torch.full((6, 5), 0.5), Recipe(steps=steps, batch_size=32), seed=0,
                 threads=2)
    assert len(calls) == trims


@pytest.mark.parametrize("compact", [False, True], ids=["dense", "compact"])
def test_untied_step_loop_compiles_and_equals_plain(compact, monkeypatch):
    # TorchScript falls back to plain Python on any failure (slower, same numbers): the untied loop must compile
    inst, m, n, B = 2, 4, 6, 32
    g = torch.Generator().manual_seed(3)
    params = {"W1": torch.randn(inst, m, n, generator=g) * 0.5, "W2": torch.randn(inst, n, m, generator=g) * 0.5,
              "b": torch.zeros(inst, n)}
    density = torch.full((inst, n), 0.05 if compact else 0.5)
    out = []
    for plain in (False, True):
        monkeypatch.setenv(fast.SCRIPT_ENV, "1" if plain else "0")
        bits = fast.RawBits(torch.Generator().manual_seed(4), CPU)
        sampler = fast.SparseSampler(density, bits, B, True) if compact else fast.SignedSampler(density, bits, B)
        model = fast.build_model({k: v.clone() for k, v in params.items()}, torch.ones(inst, n), sampler.a, B,
                                 "untied-abs", sparse_encoder=compact)
        trainer = fast.compile_trainer(fast.PartTrainer(model, fast.FusedAdamW(model.theta, model.gtheta, Recipe()),
                                                        sampler.T, sampler.signed))
        assert isinstance(trainer, torch.jit.ScriptModule) != plain
        block = sampler.draw_block(20)
        losses, _ = (trainer.forward_sparse(block[0], block[1], block[2].tolist(), 1, 5, 20, []) if compact
                     else trainer(block, 1, 5, 20, []))
        out.append((model.theta.clone(), torch.stack(losses)))
    assert not fast.loop._SCRIPT_FAILURE, fast.loop._SCRIPT_FAILURE
    torch.testing.assert_close(out[0][0], out[1][0], rtol=0, atol=1e-6)
    torch.testing.assert_close(out[0][1], out[1][1], rtol=1e-5, atol=1e-9)
    assert not torch.equal(out[0][0], torch.cat([params["W1"].reshape(-1), torch.cat(
        [params["W2"], params["b"][:, :, None]], dim=2).reshape(-1)]))  # it trained


@pytest.mark.parametrize("optimizer", ["adamw", "adam", "sgd"])
def test_the_step_loop_compiles_with_every_optimizer(optimizer, monkeypatch):
    monkeypatch.setenv(fast.SCRIPT_ENV, "0")
    inst, m, n, B = 2, 2, 5, 16
    model = fast.make_model(torch.randn(inst, m, n), torch.zeros(inst, n), torch.ones(inst, n), torch.ones(inst, n),
                            B, "relu")
    opt = fast.FusedOptimizer(model.theta, model.gtheta, Recipe(optimizer=optimizer))
    trainer = fast.compile_trainer(fast.PartTrainer(model, opt, torch.zeros(inst, n, 1)))
    assert isinstance(trainer, torch.jit.ScriptModule), fast.loop._SCRIPT_FAILURE
