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
    before = evaluate(cfg, initial_params(cfg), torch.device("cpu"))
    res = train(cfg, engine="eager")
    assert (res.final_loss < 0.8 * before).all()
    assert torch.allclose(evaluate(cfg, res.params, torch.device("cpu")), res.final_loss)


def test_linear_model_learns_the_top_features_dense():
    # n = 3, m = 2, dense, I = (1, 0.9, 0.81): the optimum keeps features 0 and 1 orthonormal (S2-1).
    recipe = Recipe(steps=3000, batch_size=512, lr=1e-2, eval_batches=1)
    cfg = RunConfig.uniform(3, 2, [1.0], 0.9, model="linear", recipe=recipe, seed=3)
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

    class Exploding:
        name = "boom"
        chunk_elements: dict = {}

        def train_chunk(self, job):
            job.params["W"].fill_(float("nan"))

    monkeypatch.setattr(trainer, "get_engine", lambda name, model, data, *more: Exploding())
    with pytest.raises(TMSError, match="training diverged: the final loss is not finite for 2 of 2"):
        train(small(steps=1))


@pytest.mark.parametrize("engine", ["eager", "fast"])
def test_snapshots_change_no_number_and_hold_the_weights_at_their_steps(engine):
    cfg = small(steps=60, densities=[1.0, 0.03])
    plain = train(cfg, engine=engine, device="cpu")
    snap = train(cfg, engine=engine, device="cpu", snapshots=[0, 1, 25, 60])
    assert torch.equal(plain.W, snap.W) and torch.equal(plain.b, snap.b)
    assert torch.equal(plain.final_loss, snap.final_loss) and plain.snapshot_steps == [] and not plain.snapshots
    assert snap.snapshot_steps == [0, 1, 25, 60]
    assert snap.snapshots["W"].shape == (4, *plain.W.shape) and snap.snapshots["b"].shape == (4, *plain.b.shape)
    assert torch.equal(snap.snapshots["W"][0], initial_params(cfg)["W"])
    assert torch.equal(snap.snapshots["W"][-1], snap.W) and torch.equal(snap.snapshots["b"][-1], snap.b)
    assert not torch.equal(snap.snapshots["W"][1], snap.snapshots["W"][0])  # one step later, it moved
    # step 25 is step 25 of the same training: a run of 25 steps ends exactly there
    short = train(RunConfig.from_dict(dict(cfg.to_dict(), recipe=dict(cfg.recipe.__dict__, steps=25, betas=[0.9, 0.999]))),
                  engine=engine, device="cpu")
    assert torch.equal(snap.snapshots["W"][2], short.W)


def test_log_spaced_snapshots_and_bad_steps():
    from tms.train import snapshot_steps

    steps = snapshot_steps("log", 10_000)
    assert steps[0] == 0 and steps[-1] == 10_000 and steps == sorted(set(steps)) and 30 <= len(steps) <= 41
    ratios = [b / a for a, b in zip(steps[1:], steps[2:]) if a >= 100]
    assert max(ratios) / min(ratios) < 1.1  # log-spaced: a constant ratio where rounding does not matter
    assert snapshot_steps([5, 0, 5], 10) == [0, 5] and snapshot_steps(None, 10) == []
    for bad in ([11], [-1], [2.5], "linear"):
        with pytest.raises(ConfigError, match="snapshot"):
            snapshot_steps(bad, 10)


@pytest.mark.parametrize("engine", ["eager", "fast"])
def test_thread_count_is_a_parameter_and_leaves_the_callers_setting(engine):
    cfg = small(steps=40, restarts=3)
    before = torch.get_num_threads()
    one = train(cfg, engine=engine, device="cpu", threads=1)
    assert torch.get_num_threads() == before
    two = train(cfg, engine=engine, device="cpu", threads=2)
    assert torch.get_num_threads() == before and two.threads == 2
    assert torch.equal(one.W, two.W) and torch.equal(one.final_loss, two.final_loss)
    with pytest.raises(ConfigError, match="threads must be an integer >= 1"):
        train(cfg, threads=0)


def test_auto_engine_takes_the_reference_where_the_fast_one_does_not_apply(monkeypatch):
    from tms.engines import ENGINES, Engine, get_engine

    assert get_engine("auto", "relu", "independent").name == "fast"
    monkeypatch.setitem(ENGINES, "fast", Engine("fast", "fast", models=("relu",), data=("independent",)))
    assert get_engine("auto", "hidden-relu", "independent").name == "eager"
    # auto tries the engines in AUTO_ORDER: the sparse engine (the scaling runs') trains the linear model too
    assert get_engine("auto", "linear", "independent").name == "sparse"
    with pytest.raises(ConfigError, match="engine fast trains the models relu .* not model 'linear'"):
        get_engine("fast", "linear", "independent")
