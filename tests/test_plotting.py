"""Figures are redrawn from stored run folders and the tables derived from them: plain runs, experiment
folders, results folders; and the analysis writes its tables on the way."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from matplotlib import image as mpimg

import tms.registry
import tms.analysis.models
import tms.pipeline
from tms.cli import main
from tms.config import Recipe, RunConfig
from tms.errors import RunFolderError
from tms.pipeline import redraw
from tms.runs import save_run
from tms.train import TrainResult


def fake_result(cfg, seed=0):
    g = torch.Generator().manual_seed(seed)
    inst = cfg.n_instances
    return TrainResult(
        params={"W": torch.randn(inst, cfg.n_hidden, cfg.n_features, generator=g) * 0.7,
                "b": torch.randn(inst, cfg.n_features, generator=g) * 0.2},
        final_loss=torch.rand(inst, generator=g), log_steps=[1], log_losses=torch.rand(1, inst, generator=g),
        seconds=0.0, device="cpu", engine="eager",
    )


def write(path, cfg, **extra):
    return save_run(path, cfg, fake_result(cfg), extra=extra or {"command": "train"})


def assert_images(paths, names):
    assert sorted(p.name for p in paths) == sorted(f"{n}.{ext}" for n in names for ext in ("png", "svg"))
    for p in paths:
        assert p.is_file() and p.stat().st_size > 5000, p
        if p.suffix == ".png":
            img = mpimg.imread(p)
            assert img.shape[0] > 200 and img.shape[1] > 300
            assert np.asarray(img[..., :3]).std() > 0.05  # not a blank canvas
        else:
            text = p.read_text()
            assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert not [q for q in paths[0].parent.iterdir() if q.name.startswith(".")]  # no temporary files left


def test_plain_run_gets_generic_figures(tmp_path):
    run = write(tmp_path / "run", RunConfig.uniform(5, 2, [1.0, 0.1], 0.9, restarts=3, recipe=Recipe(steps=1)))
    paths = redraw(run)
    assert_images(paths, ["run_gram", "run_vectors"])
    assert all(p.parent == run / "figures" for p in paths)
    assert sorted(p.name for p in (run / "tables").iterdir()) == ["explorer.json", "features.csv", "models.csv"]
    # m > 2: no vector panels.
    run3 = write(tmp_path / "run3", RunConfig.uniform(6, 3, [0.5], recipe=Recipe(steps=1)))
    assert_images(redraw(run3), ["run_gram"])


def experiment_folders(results):
    """An intro and a section2 experiment folder with random weights (two settings each keeps it fast)."""
    write(results / "intro", RunConfig.uniform(5, 2, [1.0, 0.1], 0.9, restarts=2, recipe=Recipe(steps=1)),
          experiment="intro", run="", quick=True)
    for act in ("linear", "relu"):
        write(results / "section2" / act,
              RunConfig.uniform(20, 5, [1.0, 0.01], 0.7, model=act, restarts=2, recipe=Recipe(steps=1)),
              experiment="section2", run=act, quick=True)


def test_a_results_folder_is_drawn_by_its_experiments(tmp_path):
    experiment_folders(tmp_path)
    paths = redraw(tmp_path)
    assert_images([p for p in paths if p.parent == tmp_path / "intro" / "figures"], ["intro_vectors", "intro_configurations"])
    assert_images([p for p in paths if p.parent == tmp_path / "section2" / "figures"], ["section2_linear", "section2_relu"])
    assert len(paths) == 8
    assert sorted(p.name for p in (tmp_path / "intro" / "tables").iterdir()) == [
        "explorer.json", "features.csv", "intro_configurations.csv", "intro_geometry.csv", "models.csv"]
    assert sorted(p.name for p in (tmp_path / "section2" / "tables").iterdir()) == [
        "explorer.json", "features.csv", "linear_restarts.csv", "models.csv", "relu_restarts.csv"]


def test_an_experiment_folder_or_one_of_its_runs_redraws_the_experiment(tmp_path, monkeypatch):
    experiment_folders(tmp_path)
    calls = []
    real = tms.registry.all_experiments()
    stubs = {name: dataclasses.replace(exp, figures=(), analyses=(lambda d, name=name: calls.append((name, d.path)),))
             for name, exp in real.items()}
    monkeypatch.setattr(tms.pipeline, "all_experiments", lambda: stubs)
    redraw(tmp_path / "intro")  # the experiment folder is the run
    redraw(tmp_path / "section2")  # the experiment folder holds the runs
    redraw(tmp_path / "section2" / "relu")  # one run of it
    assert calls == [("intro", tmp_path / "intro"), ("section2", tmp_path / "section2"),
                     ("section2", tmp_path / "section2")]
    # A run naming an experiment this package does not have is drawn as a plain run.
    write(tmp_path / "other", RunConfig.uniform(4, 3, [1.0], recipe=Recipe(steps=1)), experiment="gone", run="")
    assert_images(redraw(tmp_path / "other"), ["run_gram"])


def test_foreign_missing_and_corrupt_folders_raise(tmp_path):
    with pytest.raises(RunFolderError, match="does not exist"):
        redraw(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunFolderError, match="no tms run"):
        redraw(tmp_path / "empty")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "config.json").write_text(json.dumps({"model": "gpt2"}))
    with pytest.raises(RunFolderError, match="not a tms run"):
        redraw(foreign)
    run = write(tmp_path / "run", RunConfig.uniform(4, 2, [1.0], recipe=Recipe(steps=1)))
    (run / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(RunFolderError, match="corrupt"):
        redraw(run)


def test_tms_plot_reports_a_foreign_folder_in_one_line(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{not json")
    assert main(["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "config.json" in err and "Traceback" not in err


def test_figure_kinds_draw_from_tables_not_from_metrics(tmp_path, monkeypatch):
    # The §2 bars come from features.csv: change a norm there and the drawing follows; the metrics module is
    # never asked for it.
    import tms.metrics
    from tms.analysis.folder import ExperimentFolder
    from tms.analysis.models import FEATURES, analyze_models
    from tms.plotting import gram

    write(tmp_path / "run", RunConfig.uniform(6, 3, [1.0, 0.1], restarts=2, recipe=Recipe(steps=1)))
    folder = ExperimentFolder(tmp_path / "run")
    analyze_models(folder)
    rows = folder.read(FEATURES)
    drawn = []
    monkeypatch.setattr(gram, "gram_figure", lambda Ws, bs, norms, sups, titles, suptitle, ncols: drawn.append(norms))
    for name in ("feature_norms", "superposition", "feature_dimensionality"):
        monkeypatch.setattr(tms.metrics, name, lambda *a: pytest.fail("a figure computed a metric"))
    gram.best_restarts(ExperimentFolder(tmp_path / "run"), run="")
    best = [r["instance"] for r in folder.read(tms.analysis.models.MODELS) if r["best"]]
    assert drawn[0][0] == [r["norm"] for r in rows if r["instance"] == best[0]]
