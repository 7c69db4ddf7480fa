"""The sparse sampler and engine of the scaling runs (BEYOND.md SCALE): the sampler draws the independent
distribution (statistically, at a fixed seed), the hand-written gradients are autograd's, and on the same batches
the sparse engine makes the eager engine's updates, schedule and γ included."""

import importlib
from unittest import mock

import pytest
import torch

from tms.config import Recipe, RunConfig, power_law_densities
from tms.data import SparseBatch, sample_sparse
from tms.engines import ChunkJob, get_engine
from tms.engines import sparse as sparse_engine
from tms.engines.sparse import loss_and_grads
from tms.model import get_family

train_module = importlib.import_module("tms.train")


def test_sparse_sampler_draws_the_independent_distribution():
    density = torch.tensor([power_law_densities(300, 1.5), [0.2] * 150 + [0.004] * 150])
    batch = sample_sparse(density, 4000, torch.Generator().manual_seed(0), value_max=2.0)
    x = batch.dense()
    keys = (batch.inst * 4000 + batch.row) * 300 + batch.feat
    assert keys.unique().numel() == keys.numel()  # no entry twice
    share = (x > 0).double().mean(dim=1)  # [inst, feat]
    sd = (density.double() * (1 - density.double()) / 4000).sqrt()
    z = (share - density) / sd
    assert z.abs().max() < 5 and z.mean().abs() < 0.2 and 0.8 < z.std() < 1.2  # binomial spread, dense and rare
    active = x[x > 0]
    assert active.max() < 2.0 and active.mean().item() == pytest.approx(1.0, abs=0.01)
    assert active.var().item() == pytest.approx(4 / 12, abs=0.01)  # U(0, 2)
    again = sample_sparse(density, 4000, torch.Generator().manual_seed(0), value_max=2.0)
    assert torch.equal(again.dense(), x)


def test_a_rare_feature_is_active_in_distinct_rows_with_the_binomial_count():
    # 10 features of density 0.03 over 64 rows in 400 instances: 4000 counts, each Binomial(64, 0.03)
    b = sample_sparse(torch.full((400, 10), 0.03), 64, torch.Generator().manual_seed(1))
    assert (b.dense() > 0).sum().item() == b.value.numel()  # distinct rows: no entry written twice
    counts = torch.bincount(b.inst * 10 + b.feat, minlength=4000).double()
    assert counts.mean().item() == pytest.approx(64 * 0.03, rel=0.05)
    assert counts.var().item() == pytest.approx(64 * 0.03 * 0.97, rel=0.12)


@pytest.mark.parametrize("model,sparse_below", [("relu", 0.0), ("relu", 1.0), ("relu", None), ("linear", None)])
@pytest.mark.parametrize("weighted", [False, True])
def test_hand_written_gradients_are_autograds(model, weighted, sparse_below):
    """Both backward paths of the ReLU model: dense products (sparse_below 0) and sums over G's entries (1); None
    is the default switch, and for the bias-shifted model below it must take the entry path."""
    cfg = RunConfig.power_law(120, 6, [1.5, 1.0], value_max=2.0, model=model, recipe=Recipe(init="scaling"))
    params = train_module.initial_params(cfg)
    if sparse_below is None and model == "relu":  # a trained model's negative biases: few positive outputs
        params["b"] = params["b"] - 3.0
    density = torch.tensor(cfg.instance_density())
    batch = sample_sparse(density, 200, torch.Generator().manual_seed(2), 2.0)
    importance = torch.rand(2, 120, generator=torch.Generator().manual_seed(3)) if weighted else None
    kw = {} if sparse_below is None else {"sparse_below": sparse_below}
    calls = []
    with mock.patch.object(sparse_engine, "_sparse_output", wraps=sparse_engine._sparse_output) as spy:
        loss, grads = loss_and_grads({k: v.clone() for k, v in params.items()}, batch, importance,
                                     model == "linear", **kw)
        calls.append(spy.call_count)
    assert calls == [2 if (model == "relu" and sparse_below != 0.0) else 0]  # instance by instance
    # samples without an active feature (their loss and bias gradient in closed form) are part of the check
    idle = [200 - len(torch.unique(batch.row[batch.inst == i])) for i in range(2)]
    assert min(idle) > 20
    ref = {k: v.clone().requires_grad_() for k, v in params.items()}
    expected = get_family(model).loss(ref, batch.dense(), torch.ones(2, 120) if importance is None else importance)
    expected.sum().backward()
    assert torch.allclose(loss, expected.detach(), rtol=1e-5, atol=1e-7)
    assert torch.allclose(grads["W"], ref["W"].grad, rtol=1e-4, atol=1e-8)
    assert torch.allclose(grads["b"], ref["b"].grad, rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("gamma,backward", [(-1.0, "auto"), (0.3, "auto"), (None, "auto"), (-1.0, "entries")])
def test_the_sparse_engine_makes_the_eager_updates_on_the_same_batches(gamma, backward, monkeypatch):
    """'entries': every step's backward over G's entries (the path the trained scaling models take), with the
    per-instance fused AdamW, against the eager engine's autograd and torch.optim.AdamW."""
    cfg = RunConfig.power_law(80, 5, [1.5, 1.2], value_max=2.0, recipe=Recipe(
        init="scaling", steps=30, batch_size=64, lr=1e-2, gamma=gamma, schedule="cosine", warmup_steps=5, log_every=10))
    density = torch.tensor(cfg.instance_density())
    out = {}
    spy = mock.Mock(wraps=sparse_engine._sparse_output)
    monkeypatch.setattr(sparse_engine, "_sparse_output", spy)
    if backward == "entries":
        monkeypatch.setattr(sparse_engine, "SPARSE_OUTPUT_BELOW", 1.0)
    for name in ("sparse", "eager"):
        logged = {}
        job = ChunkJob(params={k: v.clone() for k, v in train_module.initial_params(cfg).items()},
                       importance=torch.ones(2, 80), density=density, model="relu", data="independent",
                       recipe=cfg.recipe, generator=torch.Generator().manual_seed(5), value_max=2.0,
                       sample=lambda d, b, g: (sample_sparse(d, b, g, 2.0).dense(), None),
                       on_log=lambda s, v, logged=logged: logged.setdefault(s, v.clone()))
        get_engine(name).train_chunk(job)
        out[name] = (job.params, logged)
    (ps, ls), (pe, le) = out["sparse"], out["eager"]
    assert torch.allclose(ps["W"], pe["W"], atol=2e-5) and torch.allclose(ps["b"], pe["b"], atol=2e-5)
    assert sorted(ls) == sorted(le) == [10, 20, 30]
    assert all(torch.allclose(ls[s], le[s], rtol=1e-4) for s in ls)
    moved = (ps["W"] - train_module.initial_params(cfg)["W"]).abs().max()
    assert moved > 1e-3  # the comparison is not between two untouched inits
    if backward == "entries":
        assert spy.call_count == 2 * 30  # both instances, every step


def test_auto_picks_sparse_for_the_scaling_runs_and_keeps_the_paper_runs_on_fast():
    scaling = RunConfig.power_law(50, 4, [1.5], value_max=2.0, recipe=Recipe(steps=20, batch_size=32, gamma=-1.0,
                                                                             schedule="cosine", warmup_steps=2))
    assert train_module.train(scaling, threads=1).engine == "sparse"
    assert get_engine("auto", "relu", "independent").name == "fast"
    assert get_engine("auto", "relu", "independent", ("gamma",), "adam").name == "eager"
    assert get_engine("auto", "relu", "independent", ("train_size",)).name == "eager"
    assert get_engine("auto", "hidden-relu", "independent", ("gamma",)).name == "eager"


def test_the_sparse_engine_trains_the_same_numbers_on_any_number_of_threads():
    cfg = RunConfig.power_law(60, 4, [1.5, 2.0, 1.0], value_max=2.0, recipe=Recipe(
        init="scaling", steps=20, batch_size=32, lr=1e-2, gamma=-1.0, schedule="cosine", warmup_steps=2))
    one, two = (train_module.train(cfg, engine="sparse", threads=t) for t in (1, 2))
    assert torch.equal(one.params["W"], two.params["W"]) and torch.equal(one.log_losses, two.log_losses)


def test_the_sparse_engine_refuses_what_it_does_not_train_in_one_line():
    from tms.errors import ConfigError

    with pytest.raises(ConfigError, match="^engine sparse trains with the optimizers adamw, not 'sgd'; use engine eager"):
        get_engine("sparse", "relu", "independent", (), "sgd")
    with pytest.raises(ConfigError, match="^engine sparse does not implement train_size; use engine eager or auto$"):
        get_engine("sparse", "relu", "independent", ("train_size",))
    with pytest.raises(ConfigError, match="^engine sparse trains the models relu, linear"):
        get_engine("sparse", "hidden-relu", "independent")


@pytest.mark.parametrize("shape,shift", [((2, 64, 100), 1.5), ((1, 8, 13), 1.5), ((3, 16, 40), 3.0)])
def test_positive_entries_are_nonzeros_of_the_relu_output(shape, shift):
    """The word-wise search (8 outputs per int64) finds exactly torch.nonzero's entries, in its order: words that
    straddle rows (13 features), words with a single positive output (shift 3: about 0.1 % positive), empty and full
    words. (A size that is not a multiple of 8 goes to nonzero itself.)"""
    out = torch.relu(torch.randn(shape, generator=torch.Generator().manual_seed(4)) - shift)
    out.view(-1)[:16] = 1.0  # two full words
    out.view(-1)[16:40] = 0.0  # three empty ones
    out.view(-1)[43] = 0.5  # a word with one positive output
    got = sparse_engine.positive_entries(out)
    want = out.reshape(-1).nonzero().squeeze(1)
    assert torch.equal(got, want) and len(got) > 16


@pytest.mark.parametrize("model", ["relu", "linear"])
@pytest.mark.parametrize("weighted", [False, True])
def test_a_batch_without_active_features_is_its_closed_form(model, weighted):
    """Every sample idle: no sample goes through the decoder, and the loss and the gradients (b's only) come from
    the closed form alone, as autograd has them."""
    g = torch.Generator().manual_seed(6)
    params = {"W": torch.randn(2, 4, 30, generator=g), "b": torch.randn(2, 30, generator=g)}
    importance = torch.rand(2, 30, generator=g) if weighted else None
    none = torch.zeros(0, dtype=torch.long)
    batch = SparseBatch(none, none, none, torch.zeros(0), (2, 16, 30))
    loss, grads = loss_and_grads({k: v.clone() for k, v in params.items()}, batch, importance, model == "linear")
    ref = {k: v.clone().requires_grad_() for k, v in params.items()}
    expected = get_family(model).loss(ref, batch.dense(), torch.ones(2, 30) if importance is None else importance)
    expected.sum().backward()
    assert torch.allclose(loss, expected.detach(), rtol=1e-5) and float(loss.min()) > 0
    assert torch.equal(grads["W"], torch.zeros_like(grads["W"])) and torch.allclose(ref["W"].grad, grads["W"])
    assert torch.allclose(grads["b"], ref["b"].grad, rtol=1e-5, atol=1e-9)
