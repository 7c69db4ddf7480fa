"""The CLI: bad input gives one line naming the problem, exit code 2, no traceback, no files."""

import subprocess
import sys

import pytest
import torch

from tms.cli import main
from tms.runs import load_run


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv,match", [
    (["train", "-n", "0", "-m", "2", "--densities", "1", "--out", "{out}"], "features must be an integer >= 1"),
    (["train", "-n", "5", "-m", "0", "--densities", "1", "--out", "{out}"], "hidden must be an integer >= 1"),
    (["train", "-n", "5", "-m", "2", "--densities", "1.5", "--out", "{out}"], "density must be in (0, 1], got 1.5"),
    (["train", "-n", "5", "-m", "2", "--densities", "0", "--out", "{out}"], "density must be in (0, 1], got 0"),
    (["train", "-n", "5", "-m", "2", "--densities", "-0.1", "--out", "{out}"], "density must be in (0, 1]"),
    (["train", "-n", "5", "-m", "2", "--densities", "x", "--out", "{out}"], "density must be a number, got 'x'"),
    (["train", "-n", "5", "-m", "2", "--densities", "1", "--model", "tanh", "--out", "{out}"], "invalid choice: 'tanh'"),
    (["train", "-n", "5", "-m", "2", "--densities", "1,x", "--out", "{out}"], "density must be a number, got 'x'"),
    (["train", "-n", "5", "-m", "2", "--out", "{out}"], "train needs --densities or --power-law (or --config FILE.json)"),
    (["train", "-n", "5", "-m", "2", "--densities", "1", "--steps", "10", "--snapshots", "0,11", "--out", "{out}"],
     "snapshot steps must be integers in [0, 10]"),
    (["train", "-n", "5", "-m", "2", "--densities", "1", "--snapshots", "often", "--out", "{out}"],
     "snapshots must be 'log' or integer steps"),
    (["train", "-n", "5", "-m", "2", "--densities", "1", "--threads", "0", "--out", "{out}"], "threads must be an integer >= 1"),
    (["train", "-n", "4", "-m", "2", "--densities", "0.1", "--set", "correlated:0,0", "--out", "{out}"],
     "names feature 0 twice"),
    (["train", "-n", "4", "-m", "2", "--densities", "0.1", "--set", "correlated:0,4", "--out", "{out}"],
     "features must be in [0, 3] (n = 4 features), got 4"),
    (["train", "-n", "4", "-m", "2", "--densities", "0.1", "--set", "correlated:", "--out", "{out}"],
     "must name at least 2 features, got 0"),
    (["train", "-n", "4", "-m", "2", "--densities", "0.1", "--set", "entangled:0,1", "--out", "{out}"],
     "kind must be one of correlated, anticorrelated, got 'entangled'"),
    (["train", "-n", "4", "-m", "2", "--densities", "0.1", "--set", "correlated:0,x", "--out", "{out}"],
     "integer features"),
    (["train", "-n", "4", "-m", "2", "--densities", "0.6", "--set", "anticorrelated:0,1", "--out", "{out}"],
     "must sum to at most 1 over the anticorrelated set"),
    (["train", "-n", "4", "-m", "2", "--densities", "0.1", "--set", "correlated:0,1", "--steps", "10", "--snapshots",
      "-1", "--out", "{out}"], "snapshot steps must be integers in [0, 10]"),
    (["train", "--config", "{out}.json", "--out", "{out}"], "does not exist"),
    (["train", "-n", "5", "-m", "2", "--densities", "1", "--lr", "-1", "--out", "{out}"], "lr must be in (0, 10]"),
    (["train", "-n", "5", "-m", "2", "--densities", "1", "--importance-decay", "0", "--out", "{out}"], "importance_decay"),
    (["train", "-n", "5", "-m", "2", "--densities", "1", "--device", "tpu", "--out", "{out}"], "device must be one of auto, cpu, cuda"),
    (["train", "-n", "5", "-m", "2", "--densities", "1"], "the following arguments are required: --out"),
    (["train", "-n", "5", "-m", "2", "--densities", "1", "--gamma", "1", "--weight-decay", "0.1", "--out", "{out}"],
     "weight_decay is not used with gamma"),
    (["train", "-n", "5", "-m", "2", "--densities", "1", "--gamma", "1", "--weight-decay", "0.01", "--out", "{out}"],
     "got weight_decay 0.01 with gamma 1"),
    (["train", "-n", "5", "-m", "2", "--power-law", "-1", "--out", "{out}"], "power_law must be in [0, 100], got -1.0"),
    (["reproduce", "nonsense"], "unknown experiment 'nonsense'; choose from:"),
    (["reproduce", "intro", "--seed", "-1", "--out", "{out}"], "seed must be an integer >= 0, got -1"),
    (["plot", "{out}"], "does not exist"),
    (["report", "--out", "{out}"], "does not exist"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, argv, match):
    out = tmp_path / "out"
    code, stdout, err = run_cli(capsys, *[a.replace("{out}", str(out)) for a in argv])
    assert code == 2
    assert match in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert not out.exists()


def test_plot_refuses_foreign_folder(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    code, _, err = run_cli(capsys, "plot", str(tmp_path / "notes.txt"))
    assert code == 2 and "tms: error:" in err and len(err.strip().splitlines()) == 1


def test_train_writes_a_run_and_refuses_to_clobber(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "-n", "5", "-m", "2", "--densities", "1", "0.1", "--importance-decay", "0.9",
            "--restarts", "2", "--steps", "50", "--batch-size", "64", "--seed", "3", "--out", str(out)]
    code, _, err = run_cli(capsys, *argv)
    assert code == 0, err
    run = load_run(out)
    assert run.W.shape == (4, 2, 5) and run.config.seed == 3 and run.config.restarts == 2
    assert run.config.importance[0][2] == pytest.approx(0.81)
    W = run.W.clone()
    # same config again: nothing to do, weights untouched
    code, _, err = run_cli(capsys, *argv)
    assert code == 0 and "nothing to train" in err
    assert torch.equal(load_run(out).W, W)
    # another config into the same folder: refused
    code, _, err = run_cli(capsys, *[a if a != "3" else "4" for a in argv])
    assert code == 2 and "pass --force" in err
    assert torch.equal(load_run(out).W, W)


def test_train_refuses_a_folder_of_other_files(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    code, _, err = run_cli(capsys, "train", "-n", "2", "-m", "1", "--densities", "1", "--steps", "1", "--out", str(tmp_path))
    assert code == 2 and "not a tms run" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_reproduce_list_names_the_experiments(capsys):
    code, out, _ = run_cli(capsys, "reproduce", "--list")
    assert code == 0
    names = [line.split()[0] for line in out.strip().splitlines()]
    assert {"intro", "section2", "section2-large"} <= set(names)


def test_console_script_has_no_traceback(tmp_path):
    # The real entry point, as a user runs it.
    p = subprocess.run([sys.executable, "-m", "tms.cli", "train", "-n", "3", "-m", "2", "--densities", "2",
                        "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.strip() == "tms: error: density must be in (0, 1], got 2.0"


def test_sigterm_stops_training_cleanly_and_a_rerun_finishes(tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    argv = [sys.executable, "-m", "tms.cli", "train", "-n", "5", "-m", "2", "--densities", "1", "--steps", "100000000",
            "--batch-size", "64", "--engine", "eager", "--out", str(out)]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no run folder, no temporary folder


def test_stale_temporary_folders_are_cleared(tmp_path):
    from tms.config import Recipe, RunConfig
    from tms.runs import save_run
    from tms.train import train

    (tmp_path / ".run.abc.tmp").mkdir()  # left by a writer that was killed with SIGKILL
    cfg = RunConfig.uniform(2, 1, [1.0], recipe=Recipe(steps=2, batch_size=8, eval_batches=1))
    save_run(tmp_path / "run", cfg, train(cfg, engine="eager"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_reproduce_grid_and_models_flags(tmp_path, capsys, monkeypatch):

    import tms.folders

    monkeypatch.setattr(tms.folders, "train", lambda cfg, **kw: (_ for _ in ()).throw(SystemExit(cfg)))
    with pytest.raises(SystemExit) as stop:  # stop at the first training call and inspect its config
        main(["reproduce", "phase-2-1", "--grid", "3", "--models", "2", "--out", str(tmp_path), "--no-report"])
    cfg = stop.value.code
    assert cfg.n_settings == 9 and cfg.restarts == 2
    code, _, err = run_cli(capsys, "reproduce", "phase-2-1", "--grid", "0", "--out", str(tmp_path))
    assert code == 2 and "grid must be an integer >= 1" in err
    code, _, err = run_cli(capsys, "reproduce", "intro", "--grid", "3", "--out", str(tmp_path / "x"))
    assert code == 2 and "parameter 'grid' applies to the experiments phase-2-1, phase-3-2" in err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("argv, restarts, settings", [(["geometry", "--models", "3"], 3, 21),
                                                      (["nonuniform", "--fits", "4"], 4, 27)])
def test_reproduce_section4_flags(tmp_path, monkeypatch, argv, restarts, settings):
    import tms.folders

    monkeypatch.setattr(tms.folders, "train", lambda cfg, **kw: (_ for _ in ()).throw(SystemExit(cfg)))
    with pytest.raises(SystemExit) as stop:
        main(["reproduce", *argv, "--out", str(tmp_path), "--no-report"])
    assert stop.value.code.restarts == restarts and stop.value.code.n_settings == settings


def test_the_fits_flag_names_its_experiment(tmp_path, capsys):
    code, _, err = run_cli(capsys, "reproduce", "geometry", "--fits", "3", "--out", str(tmp_path / "x"))
    assert code == 2 and "parameter 'fits' applies to the experiments nonuniform" in err
    assert not (tmp_path / "x").exists()


def test_reproduce_seed_flag_reseeds_every_run(tmp_path, monkeypatch):
    import dataclasses

    import tms.folders

    seen = []

    def fake_train(cfg, **kw):
        seen.append(cfg)
        raise SystemExit(0)

    monkeypatch.setattr(tms.folders, "train", fake_train)
    with pytest.raises(SystemExit):
        main(["reproduce", "section2", "--seed", "7", "--out", str(tmp_path), "--no-report"])
    with pytest.raises(SystemExit):
        main(["reproduce", "section2", "--out", str(tmp_path), "--no-report"])
    assert [c.seed for c in seen] == [7, 0]
    assert seen[0].n_features == 20 and seen[0] == dataclasses.replace(seen[1], seed=7)


def test_densities_take_spaces_and_commas_alike(tmp_path, capsys):
    base = ["train", "-n", "3", "-m", "2", "--steps", "5", "--batch-size", "16"]
    assert run_cli(capsys, *base, "--densities", "1", "0.1", "--out", str(tmp_path / "a"))[0] == 0
    assert run_cli(capsys, *base, "--densities", "1,0.1", "--out", str(tmp_path / "b"))[0] == 0
    a, b = load_run(tmp_path / "a"), load_run(tmp_path / "b")
    assert a.config == b.config and a.config.density == ((1.0,) * 3, (0.1,) * 3) and torch.equal(a.W, b.W)


def test_train_from_a_config_file(tmp_path, capsys):
    import json

    from tms.config import Recipe, RunConfig

    cfg = RunConfig(n_features=3, n_hidden=2, density=[[1.0, 0.5, 0.1]], importance=[[1.0, 2.0, 0.5]],
                    model="linear", restarts=2, recipe=Recipe(steps=5, batch_size=16), seed=4)
    (tmp_path / "cfg.json").write_text(json.dumps(cfg.to_dict()))
    assert run_cli(capsys, "train", "--config", str(tmp_path / "cfg.json"), "--out", str(tmp_path / "a"))[0] == 0
    assert load_run(tmp_path / "a").config == cfg
    # a run folder's config.json is a config file too; flags replace its seed and recipe fields
    code, _, err = run_cli(capsys, "train", "--config", str(tmp_path / "a" / "config.json"), "--seed", "9", "--lr",
                           "0.01", "--out", str(tmp_path / "b"))
    assert code == 0, err
    b = load_run(tmp_path / "b").config
    assert b.seed == 9 and b.recipe.lr == 0.01 and b.importance == cfg.importance and b.model == "linear"
    # the shape cannot come from both
    code, _, err = run_cli(capsys, "train", "--config", str(tmp_path / "cfg.json"), "-n", "4", "--out",
                           str(tmp_path / "c"))
    assert code == 2 and "--features cannot be combined with --config" in err and not (tmp_path / "c").exists()
    (tmp_path / "bad.json").write_text(json.dumps(dict(cfg.to_dict(), model="hidden-tanh")))
    code, _, err = run_cli(capsys, "train", "--config", str(tmp_path / "bad.json"), "--out", str(tmp_path / "d"))
    assert code == 2 and err.strip() == (f"tms: error: config {tmp_path / 'bad.json'}: model must be one of relu, "
                                         "linear, hidden-relu, untied-abs, got 'hidden-tanh'")
    (tmp_path / "junk.json").write_text("{")
    code, _, err = run_cli(capsys, "train", "--config", str(tmp_path / "junk.json"), "--out", str(tmp_path / "d"))
    assert code == 2 and "is not a JSON file" in err and not (tmp_path / "d").exists()


def test_train_with_snapshots_and_threads(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", "-n", "3", "-m", "2", "--densities", "1", "--steps", "20",
                           "--batch-size", "16", "--snapshots", "0,10,20", "--threads", "1", "--out",
                           str(tmp_path / "r"))
    assert code == 0, err
    run = load_run(tmp_path / "r")
    assert run.snapshots.steps == [0, 10, 20] and torch.equal(run.snapshots.at(20)["W"], run.W)
    assert run.meta["run"]["torch_threads"] == 1


@pytest.mark.parametrize("sets,match", [
    ([{"kind": "correlated", "features": [0, 0]}], "feature_sets[0].features names feature 0 twice"),
    ([{"kind": "correlated", "features": [0, 5]}], "feature_sets[0].features must be in [0, 3]"),
    ([{"kind": "correlated", "features": []}], "must name at least 2 features, got 0"),
    ([{"kind": "bunched", "features": [0, 1]}], "kind must be one of correlated, anticorrelated, got 'bunched'"),
    ([], "feature_sets must name at least one set when data is 'sets'"),
])
def test_a_config_file_with_bad_feature_sets_is_one_line_exit_2(tmp_path, capsys, sets, match):
    import json

    cfg = {"n_features": 4, "n_hidden": 2, "density": [[0.1] * 4], "importance": [[1.0] * 4], "data": "sets",
           "feature_sets": sets}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    code, _, err = run_cli(capsys, "train", "--config", str(tmp_path / "cfg.json"), "--out", str(tmp_path / "out"))
    assert code == 2 and match in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_train_with_feature_sets_from_flags_and_from_its_config_file(tmp_path, capsys):
    out = tmp_path / "sets"
    code, _, _ = run_cli(capsys, "train", "-n", "4", "-m", "2", "--densities", "0.2", "--set", "correlated:0,1",
                         "--set", "anticorrelated:3,2", "--steps", "20", "--batch-size", "16", "--out", str(out))
    assert code == 0
    run = load_run(out)
    assert run.config.data == "sets" and [(s.kind, s.features) for s in run.config.feature_sets] == [
        ("correlated", (0, 1)), ("anticorrelated", (3, 2))]
    again = tmp_path / "again"
    assert run_cli(capsys, "train", "--config", str(out / "config.json"), "--out", str(again))[0] == 0
    assert torch.equal(load_run(again).W, run.W)  # the config file trains the same numbers
