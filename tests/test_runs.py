"""Run folders: exact round trip, atomic writes, and refusal of foreign or corrupt folders."""

import json
import re

import pytest
import torch

from tms.config import Recipe, RunConfig
from tms.errors import RunFolderError
from tms.runs import is_complete_run, iter_runs, load_run, save_run
from tms.train import TrainResult


def fake_result(cfg, seed=0):
    g = torch.Generator().manual_seed(seed)
    inst = cfg.n_instances
    return TrainResult(
        params={"W": torch.randn(inst, cfg.n_hidden, cfg.n_features, generator=g),
                "b": torch.randn(inst, cfg.n_features, generator=g)},
        final_loss=torch.rand(inst, generator=g),
        log_steps=[5, 10],
        log_losses=torch.rand(2, inst, generator=g),
        seconds=1.5, device="cpu", engine="eager",
    )


@pytest.fixture
def cfg():
    return RunConfig.uniform(5, 2, [1.0, 0.3, 0.05], 0.9, restarts=2, recipe=Recipe(steps=10, log_every=5))


def test_round_trip(tmp_path, cfg):
    res = fake_result(cfg)
    save_run(tmp_path / "run", cfg, res)
    run = load_run(tmp_path / "run")
    assert run.config == cfg
    assert torch.equal(run.W, res.W) and torch.equal(run.b, res.b)
    assert run.W.dtype == torch.float32
    assert [r["instance"] for r in run.instances] == list(range(6))
    assert [r["setting"] for r in run.instances] == [0, 0, 1, 1, 2, 2]
    assert [r["restart"] for r in run.instances] == [0, 1] * 3
    assert [r["density"] for r in run.instances] == [1.0, 1.0, 0.3, 0.3, 0.05, 0.05]
    assert torch.allclose(run.loss, res.final_loss.double())
    steps, losses = run.train_log()
    assert steps == [5, 10] and torch.allclose(losses, res.log_losses, rtol=1e-6)
    meta = json.loads((tmp_path / "run" / "config.json").read_text())
    assert meta["tms_version"] and meta["config"]["seed"] == 0
    assert meta["instances"]["importance"][0][1] == pytest.approx(0.9)
    loss = res.final_loss.tolist()
    assert run.best_instances() == [2 * s if loss[2 * s] <= loss[2 * s + 1] else 2 * s + 1 for s in range(3)]
    assert is_complete_run(tmp_path / "run", cfg)
    assert not is_complete_run(tmp_path / "run", RunConfig.uniform(5, 2, [1.0], 0.9))


def test_overwrite_leaves_no_temporary_folders(tmp_path, cfg):
    save_run(tmp_path / "run", cfg, fake_result(cfg, 0))
    res2 = fake_result(cfg, 1)
    save_run(tmp_path / "run", cfg, res2)
    assert torch.equal(load_run(tmp_path / "run").W, res2.W)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert list(iter_runs(tmp_path)) == [tmp_path / "run"]


def test_failed_write_leaves_nothing(tmp_path, cfg, monkeypatch):
    import tms.tables

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(tms.tables.csv, "writer", boom)
    with pytest.raises(KeyboardInterrupt):
        save_run(tmp_path / "run", cfg, fake_result(cfg))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("damage,match", [
    (lambda p: None, "does not exist"),
    (lambda p: p.mkdir(), "has no config.json"),
    (lambda p: (p.mkdir(), (p / "config.json").write_text("{not json")), "not valid JSON"),
    (lambda p: (p.mkdir(), (p / "config.json").write_text('{"name": "some other tool"}')), "not a tms run"),
])
def test_foreign_folders_are_refused(tmp_path, damage, match):
    path = tmp_path / "x"
    damage(path)
    with pytest.raises(RunFolderError, match=match):
        load_run(path)


def test_corrupt_files_are_refused(tmp_path, cfg):
    path = save_run(tmp_path / "run", cfg, fake_result(cfg))
    (path / "model.safetensors").write_bytes(b"\x00\x01garbage")
    with pytest.raises(RunFolderError, match="model.safetensors is corrupt"):
        load_run(path)

    path = save_run(tmp_path / "run2", cfg, fake_result(cfg))
    lines = (path / "instances.csv").read_text().splitlines()
    (path / "instances.csv").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(RunFolderError, match="instances.csv has 5 rows, expected 6"):
        load_run(path)

    path = save_run(tmp_path / "run3", cfg, fake_result(cfg))
    meta = json.loads((path / "config.json").read_text())
    meta["config"]["n_hidden"] = 3
    (path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(RunFolderError, match="does not match the config"):
        load_run(path)

    path = save_run(tmp_path / "run4", cfg, fake_result(cfg))
    (path / "train_log.csv").unlink()
    with pytest.raises(RunFolderError, match="train_log.csv is missing"):
        load_run(path)
    assert not is_complete_run(path)


def test_loading_never_unpickles(tmp_path, cfg):
    # A pickle (what torch.save writes) in place of the weights is refused, not executed.
    path = save_run(tmp_path / "run", cfg, fake_result(cfg))
    torch.save({"W": torch.zeros(1)}, path / "model.safetensors")
    with pytest.raises(RunFolderError, match="corrupt"):
        load_run(path)


def test_snapshots_round_trip_and_are_checked(tmp_path, cfg):
    res = fake_result(cfg)
    res.snapshot_steps = [0, 5, 10]
    res.snapshots = {"W": torch.randn(3, *res.W.shape), "b": torch.randn(3, *res.b.shape)}
    path = save_run(tmp_path / "run", cfg, res)
    run = load_run(path)
    assert run.snapshots.steps == [0, 5, 10]
    assert torch.equal(run.snapshots.params["W"], res.snapshots["W"])
    assert torch.equal(run.snapshots.at(5)["b"], res.snapshots["b"][1])
    with pytest.raises(RunFolderError, match="no snapshot at step 7; stored steps: 0, 5, 10"):
        run.snapshots.at(7)
    plain = load_run(save_run(tmp_path / "plain", cfg, fake_result(cfg)))
    with pytest.raises(RunFolderError, match="trained without snapshots"):
        plain.snapshots


def test_run_state_ignores_logging_and_reevaluates_on_other_batches(tmp_path, cfg):
    import dataclasses

    from tms.folders import reevaluate
    from tms.runs import run_state

    path = save_run(tmp_path / "run", cfg, fake_result(cfg))
    relog = dataclasses.replace(cfg, recipe=dataclasses.replace(cfg.recipe, log_every=2))
    reeval = dataclasses.replace(cfg, recipe=dataclasses.replace(cfg.recipe, eval_batches=3))
    other = dataclasses.replace(cfg, seed=9)
    assert run_state(path, cfg) == "complete" and run_state(path, relog) == "complete"
    assert run_state(path, reeval) == "evaluate" and run_state(path, other) == "train"
    assert run_state(tmp_path / "missing", cfg) == "train"
    assert run_state(path, cfg, snapshots=[0, 5]) == "train"  # asked for snapshots it does not hold
    W = load_run(path).W.clone()
    reevaluate(path, reeval, device="cpu")
    again = load_run(path)
    assert torch.equal(again.W, W) and again.config.recipe.eval_batches == 3
    assert again.config.recipe.log_every == cfg.recipe.log_every  # the stored log keeps its interval
    assert run_state(path, reeval) == "complete"


def test_prepare_output_is_the_overwrite_policy(tmp_path, cfg):
    import dataclasses

    from tms.errors import ConfigError
    from tms.runs import prepare_output

    assert prepare_output(tmp_path / "new", cfg) == "train"
    path = save_run(tmp_path / "run", cfg, fake_result(cfg))
    assert prepare_output(path, cfg) == "complete"
    other = dataclasses.replace(cfg, seed=4)
    with pytest.raises(ConfigError, match="already holds a run of another config; pass --force"):
        prepare_output(path, other)
    assert prepare_output(path, other, force=True) == "train"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="files that are not a tms run"):
        prepare_output(tmp_path / "mine", cfg)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is not a folder"):
        prepare_output(tmp_path / "file", cfg)


def test_check_run_reads_no_weights_but_finds_damage(tmp_path, cfg):
    from tms.runs import check_run

    path = save_run(tmp_path / "run", cfg, fake_result(cfg))
    assert check_run(path) == cfg
    from safetensors.torch import save_file

    save_file({"W": torch.zeros(6, 2, 5, dtype=torch.float64), "b": torch.zeros(6, 5)}, str(path / "model.safetensors"))
    with pytest.raises(RunFolderError, match="must hold W as float32"):
        check_run(path)
    (path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(RunFolderError, match="model.safetensors is corrupt"):
        check_run(path)


def test_format_1_run_folders_still_load(tmp_path, cfg):
    path = save_run(tmp_path / "run", cfg, fake_result(cfg))
    meta = json.loads((path / "config.json").read_text())
    meta["format_version"] = 1
    meta["config"]["activation"] = meta["config"].pop("model")
    del meta["config"]["data"]
    (path / "config.json").write_text(json.dumps(meta))
    assert load_run(path).config == cfg and is_complete_run(path, cfg)
    meta["format_version"] = 99
    (path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(RunFolderError, match="unsupported format_version 99 .this tms reads 1, 2."):
        load_run(path)


def test_the_same_run_is_saved_in_the_same_bytes(tmp_path):
    # Trained twice from one config, a run is written in the same bytes: every file but config.json, whose
    # "created" (a timestamp) and "run.seconds" (wall-clock training time) are the only fields allowed to differ.
    # The safetensors headers used to vary from save to save (their metadata in a hash map's order), so one
    # pair of saves would match by chance half the time: the two results are saved four times each.
    from safetensors import safe_open

    from tms.train import train

    cfg = RunConfig.uniform(5, 2, [1.0, 0.3], 0.9, restarts=2,
                            recipe=Recipe(steps=20, batch_size=32, log_every=5, eval_batches=2))
    results = [train(cfg, device="cpu", engine="eager", snapshots=[0, 10, 20]) for _ in range(2)]
    folders = [save_run(tmp_path / f"run{k}", cfg, results[k % 2]) for k in range(8)]
    names = sorted(p.name for p in folders[0].iterdir())
    assert names == ["config.json", "instances.csv", "model.safetensors", "snapshots.safetensors", "train_log.csv"]

    def timeless(path):
        text = (path / "config.json").read_text()
        assert json.loads(text)["created"] and json.loads(text)["run"]["seconds"] >= 0
        return re.sub(r'"seconds": [0-9.e+-]+', '"seconds": _', re.sub(r'"created": "[^"]*"', '"created": _', text))

    for folder in folders[1:]:
        assert sorted(p.name for p in folder.iterdir()) == names
        for name in names:
            if name != "config.json":
                assert (folder / name).read_bytes() == (folders[0] / name).read_bytes(), (folder.name, name)
        assert timeless(folder) == timeless(folders[0])
    for name in ("model.safetensors", "snapshots.safetensors"):
        with safe_open(str(folders[0] / name), framework="pt") as f:
            assert f.metadata() == {"format": "tms-run", "format_version": "2"}
    run = load_run(folders[0])
    assert torch.equal(run.W, results[0].params["W"]) and run.snapshots.steps == [0, 10, 20]
    assert torch.equal(run.snapshots.params["b"], results[0].snapshots["b"])


def test_reading_runs_never_imports_the_trainer_or_the_engines(tmp_path):
    # Storage is separate from training a folder (tms.folders): reading results stays cheap and never loads an
    # engine. A fresh interpreter, since this one has imported everything already.
    import os
    import subprocess
    import sys
    from pathlib import Path

    import tms.runs

    cfg = RunConfig.uniform(4, 2, [1.0], recipe=Recipe(steps=10, batch_size=8, log_every=5, eval_batches=1))
    save_run(tmp_path / "run", cfg, fake_result(cfg))
    code = ("import sys, tms.runs as r; run = r.load_run(sys.argv[1]); r.check_run(sys.argv[1]); "
            "r.run_state(sys.argv[1], run.config); print(sorted(m for m in sys.modules if m.startswith('tms')))")
    src = str(Path(tms.runs.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    loaded = eval(p.stdout)
    assert "tms.runs" in loaded
    assert not [m for m in loaded if m in ("tms.train", "tms.folders") or m.startswith("tms.engines")], loaded


def test_the_package_root_gives_the_trainer_function():
    # tms.train is the function (README: tms.train(cfg)), loaded on first use, even once the module is imported
    import importlib

    import tms

    module = importlib.import_module("tms.train")
    assert tms.train is module.train and tms.TrainResult is module.TrainResult
    from tms import train as function

    assert function is module.train
