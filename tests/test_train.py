"""The trainer around the engines: seeding, logging, evaluation, and that it learns what the paper says."""

import pytest
import torch

from tms.config import Recipe, RunConfig
from tms.errors import ConfigError
from tms.train import chunk_size, evaluate, initial_params, resolve_device, train


def small(**kw):
    recipe = Recipe(steps=kw.pop("steps", 150), batch_size=256, log_every=100, eval_batches=4)
    return RunConfig.uniform(kw.pop("n", 3), kw.pop("m", 2), kw.pop("densities", [1.0, 0.1]), 0.9, recipe=recipe, **kw)


@pytest.mark.parametrize("engine", ["eager", "fast"])
def test_same_seed_same_numbers(engine):
    cfg = small()
    a = train(cfg, engine=engine, device="cpu")
    b = train(cfg, engine=engine, device="cpu")
    assert torch.equal(a.W, b.W) and torch.equal(a.b, b.b) and torch.equal(a.final_loss, b.final_loss)
    c = train(RunConfig.from_dict(dict(cfg.to_dict(), seed=1)), engine=engine, device="cpu")
    assert not torch.equal(a.W, c.W)


def test_log_records_every_k_steps_and_the_last():
    cfg = RunConfig.uniform(3, 2, [1.0], recipe=Recipe(steps=250, batch_size=64, log_every=100, eval_batches=1))
    res = train(cfg, engine="eager")
    assert res.log_steps == [100, 200, 250]
    assert res.log_losses.shape == (3, 1) and torch.isfinite(res.log_losses).all()


def test_loss_falls_and_final_loss_is_evaluated_on_fresh_samples():
    cfg = small(steps=400)
    W0, b0 = initial_params(cfg)
    before = evaluate(cfg, W0, b0, torch.device("cpu"))
    res = train(cfg, engine="eager")
    assert (res.final_loss < 0.8 * before).all()
    assert torch.allclose(evaluate(cfg, res.W, res.b, torch.device("cpu")), res.final_loss)


def test_linear_model_learns_the_top_features_dense():
    # n = 3, m = 2, dense, I = (1, 0.9, 0.81): the optimum keeps features 0 and 1 orthonormal (S2-1).
    recipe = Recipe(steps=3000, batch_size=512, lr=1e-2, eval_batches=1)
    cfg = RunConfig.uniform(3, 2, [1.0], 0.9, activation="linear", recipe=recipe, seed=3)
    W = train(cfg, engine="eager").W[0]
    G = W.T @ W
    assert torch.allclose(G[:2, :2], torch.eye(2), atol=0.08)
    assert G[2, 2].item() < 0.08


def test_chunking_bounds_instances_per_chunk():
    cfg = RunConfig.uniform(2, 1, [0.5] * 1000, recipe=Recipe(steps=1, batch_size=1024))
    assert chunk_size(cfg, max_elements=1024 * 2 * 100) == 100
    assert chunk_size(cfg, max_elements=1) == 1


def test_chunked_training_matches_instances_and_logs_all():
    cfg = RunConfig.uniform(3, 2, [1.0, 0.5, 0.2], recipe=Recipe(steps=20, batch_size=32, log_every=10, eval_batches=1))
    res = train(cfg, engine="eager", max_chunk_elements=32 * 3)  # one instance per chunk
    assert res.W.shape == (3, 2, 3) and res.log_losses.shape == (2, 3)
    assert torch.isfinite(res.log_losses).all()


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(ConfigError, match="device must be one of auto, cpu, cuda"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(ConfigError, match="no CUDA device"):
            resolve_device("cuda")


def test_unknown_engine():
    with pytest.raises(ConfigError, match="engine must be one of"):
        train(small(steps=1), engine="warp")


def test_diverged_training_is_refused_not_stored(monkeypatch):
    import importlib

    from tms.errors import TMSError

    trainer = importlib.import_module("tms.train")  # the module; `tms.train` is the function

    def exploding(W, b, *args, **kwargs):
        W.fill_(float("nan"))

    monkeypatch.setattr(trainer, "get_engine", lambda name: ("boom", exploding))
    with pytest.raises(TMSError, match="training diverged: the final loss is not finite for 2 of 2"):
        train(small(steps=1))
