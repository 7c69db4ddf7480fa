"""tms.sweep: named axes, the product trained as one run where it can, names kept for selection; where it trains
is the runtime's."""

import pytest
import torch

import tms
from tms.config import Recipe, RunConfig
from tms.errors import ConfigError
from tms.executors import Executor
from tms.runtime import Runtime
from tms.sweeps import Sweep, configs

SMALL = dict(steps=20, batch_size=64, eval_batches=1)
CPU = Runtime(device="cpu", threads=1)


def test_a_grid_is_one_run_of_every_setting():
    grid = tms.sweep(n=5, m=2, density=[1.0, 0.05], importance_decay=[0.9, 0.5], restarts=2, runtime=CPU, **SMALL)
    assert isinstance(grid, tms.TrainResult)
    cfg = grid.config
    assert cfg.n_instances == 8 and cfg.n_settings == 4 and cfg.restarts == 2
    assert grid.W.shape == (8, 2, 5)
    settings = [(lab["importance_decay"], lab["density"], lab["restart"]) for lab in grid.labels]
    assert settings == [(0.9, 1.0, 0), (0.9, 1.0, 1), (0.9, 0.05, 0), (0.9, 0.05, 1),
                        (0.5, 1.0, 0), (0.5, 1.0, 1), (0.5, 0.05, 0), (0.5, 0.05, 1)]
    assert cfg.importance[2] == pytest.approx([0.5 ** i for i in range(5)])
    assert cfg.density[1] == (0.05,) * 5
    pick = grid.sel(density=0.05, importance_decay=0.9)
    assert pick.index == [2, 3] and torch.equal(pick.W, grid.W[2:4])
    # the same numbers as training the config by hand
    again = tms.train(cfg, device="cpu", threads=1)
    assert torch.equal(again.W, grid.W) and torch.equal(again.final_loss, grid.final_loss)


def test_one_decay_is_the_uniform_config():
    [(names, cfg)] = configs(n=5, m=2, density=[1.0, 0.1], importance_decay=0.9, restarts=3, steps=50, seed=2)
    assert names == {}
    assert cfg == RunConfig.uniform(5, 2, [1.0, 0.1], 0.9, restarts=3, recipe=Recipe(steps=50), seed=2)


def test_axes_across_runs_are_named():
    runs = configs(n=4, m=[1, 2], density=0.1, lr=[1e-3, 1e-2], recipe=Recipe(steps=7))
    assert [names for names, _ in runs] == [{"m": 1, "lr": 1e-3}, {"m": 1, "lr": 1e-2}, {"m": 2, "lr": 1e-3},
                                            {"m": 2, "lr": 1e-2}]
    assert [(c.n_hidden, c.recipe.lr, c.recipe.steps) for _, c in runs] == [
        (1, 1e-3, 7), (1, 1e-2, 7), (2, 1e-3, 7), (2, 1e-2, 7)]
    grid = tms.sweep(n=4, m=2, density=[1.0, 0.1], lr=[1e-3, 1e-2], restarts=2, runtime=CPU, **SMALL)
    assert isinstance(grid, Sweep) and len(grid.runs) == 2 and grid.names == ({"lr": 1e-3}, {"lr": 1e-2})
    assert grid.n_instances == 8 and grid.axes["lr"] == [1e-3, 1e-2]
    fast = grid.sel(lr=0.01)
    assert fast.config.recipe.lr == 0.01 and torch.equal(fast.W, grid.runs[1].W)
    assert grid.sel(lr=0.001, density=0.1, restart=1).index == [3]
    with pytest.raises(ConfigError, match="select one run first with lr"):
        grid.config


def test_a_sweep_into_a_folder_trains_run_folders_and_resumes(tmp_path):
    run = tms.sweep(n=3, m=2, density=[1.0, 0.1], restarts=2, path=tmp_path / "grid", runtime=CPU, **SMALL)
    assert isinstance(run, tms.Run) and run.path == tmp_path / "grid"
    assert run.sel(density=0.1).index == [2, 3]
    here = tms.sweep(n=3, m=2, density=[1.0, 0.1], restarts=2, runtime=CPU, **SMALL)
    assert torch.equal(here.W, run.W)
    stamp = (tmp_path / "grid" / "model.safetensors").stat().st_mtime_ns
    tms.sweep(n=3, m=2, density=[1.0, 0.1], restarts=2, path=tmp_path / "grid", runtime=CPU, **SMALL)
    assert (tmp_path / "grid" / "model.safetensors").stat().st_mtime_ns == stamp  # complete: not trained again
    several = tms.sweep(n=3, m=2, density=0.1, seed=[0, 1], path=tmp_path / "seeds", runtime=CPU, **SMALL)
    assert sorted(p.name for p in (tmp_path / "seeds").iterdir()) == ["seed=0", "seed=1"]
    assert several.sel(seed=1).config.seed == 1
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="already holds something other than this run"):
        tms.sweep(n=3, m=2, path=tmp_path / "other", runtime=CPU, **SMALL)


class Elsewhere(Executor):
    name = "elsewhere"


def test_bad_sweeps_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="unknown field.*learning_rate"):
        configs(learning_rate=0.1)
    with pytest.raises(ConfigError, match="density lists a value twice"):
        configs(density=[0.1, 0.1])
    with pytest.raises(ConfigError, match="density must be in"):
        configs(density=[0.0])
    with pytest.raises(ConfigError, match="the elsewhere executor trains run folders: pass path="):
        tms.sweep(density=0.1, runtime=Runtime(executor=Elsewhere()), **SMALL)
