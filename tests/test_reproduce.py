"""The reproduce driver: claims.json, resuming without retraining, and interruptions."""

import json

import pytest
import torch

import tms.pipeline
import tms.registry
from tms.registry import Origin, Registry
import tms.reproduce
import tms.folders
from tms.analysis.models import MODELS, analyze_models
from tms.claims import Claim, Measurement, format_claims_table
from tms.claims.base import ClaimResult
from tms.config import Recipe, RunConfig
from tms.experiment import Experiment
from tms.runs import load_run


def tiny_experiment():
    recipe = Recipe(steps=30, batch_size=64, eval_batches=1, log_every=10)

    def configs(quick):
        return {"a": RunConfig.uniform(3, 2, [1.0], recipe=recipe),
                "b": RunConfig.uniform(3, 2, [0.2], recipe=recipe, model="linear", seed=2)}

    def mean_loss(tables):
        losses = [r["loss"] for r in tables.rows(MODELS, run="a")]
        return Measurement(sum(losses) / len(losses), note="mean final loss of run a")

    claim = Claim("T-1", "a tiny model learns something", "mean final loss", "<=", 1.0, mean_loss)
    return Experiment(name="tiny", title="Tiny", section="Test", summary="a test experiment",
                      configs=configs, analyses=(analyze_models,), claims=(claim,))


@pytest.fixture
def tiny(monkeypatch):
    exp = tiny_experiment()
    reg = Registry(experiments={"tiny": exp}, origins={"tiny": Origin("tiny", "path", "tests", builtin=True)})
    monkeypatch.setattr(tms.registry, "discover", lambda paths=(): reg)
    monkeypatch.setattr(tms.reproduce, "discover", lambda paths=(): reg)
    monkeypatch.setattr(tms.pipeline, "all_experiments", lambda: {"tiny": exp})
    calls = []
    real_train = tms.folders.train

    def counting_train(cfg, **kw):
        calls.append(cfg)
        return real_train(cfg, **kw)

    monkeypatch.setattr(tms.folders, "train", counting_train)
    return calls


def test_reproduce_writes_claims_and_resumes_without_retraining(tmp_path, tiny):
    claims = tms.reproduce.reproduce(["tiny"], tmp_path, report=False)
    assert len(tiny) == 2
    assert [c.id for c in claims] == ["T-1"] and claims[0].passed
    stored = json.loads((tmp_path / "claims.json").read_text())["claims"]
    assert stored[0]["measured"] == claims[0].measured
    assert set(stored[0]) >= {"id", "statement", "measured", "threshold", "passed"}
    state = json.loads((tmp_path / "reproduce.json").read_text())
    assert "tiny" in state["experiments"] and state["environment"]["torch_version"]
    mtime = (tmp_path / "tiny" / "a" / "model.safetensors").stat().st_mtime_ns
    tms.reproduce.reproduce(["tiny"], tmp_path, report=False)
    assert len(tiny) == 2  # nothing retrained
    assert (tmp_path / "tiny" / "a" / "model.safetensors").stat().st_mtime_ns == mtime


def test_interrupted_reproduce_keeps_finished_runs_and_resumes(tmp_path, tiny, monkeypatch):
    real = tms.folders.train  # counts calls into `tiny`

    def interrupt_second(cfg, **kw):
        if len(tiny) == 1:  # the first run is stored; Ctrl-C arrives during the second
            raise KeyboardInterrupt
        return real(cfg, **kw)

    monkeypatch.setattr(tms.folders, "train", interrupt_second)
    with pytest.raises(KeyboardInterrupt):
        tms.reproduce.reproduce(["tiny"], tmp_path, report=False)
    assert load_run(tmp_path / "tiny" / "a")
    assert not (tmp_path / "tiny" / "b").exists()
    assert not [p for p in (tmp_path / "tiny").iterdir() if p.name.startswith(".")]
    assert not (tmp_path / "claims.json").exists()

    monkeypatch.setattr(tms.folders, "train", real)
    tms.reproduce.reproduce(["tiny"], tmp_path, report=False)
    assert [c.model for c in tiny] == ["relu", "linear"]  # only run b was trained on resuming


def test_changed_config_is_retrained_and_logging_is_not(tmp_path, tiny, monkeypatch):

    from tms.config import Overrides

    tms.reproduce.reproduce(["tiny"], tmp_path, report=False)
    assert len(tiny) == 2
    # how often the loss is logged is not what a run is: nothing is retrained
    tms.reproduce.reproduce(["tiny"], tmp_path, report=False, overrides=Overrides(recipe=(("log_every", 3),)))
    assert len(tiny) == 2
    # another evaluation: evaluated again, not retrained
    W = load_run(tmp_path / "tiny" / "a").W.clone()
    tms.reproduce.reproduce(["tiny"], tmp_path, report=False, overrides=Overrides(recipe=(("eval_batches", 2),)))
    assert len(tiny) == 2 and torch.equal(load_run(tmp_path / "tiny" / "a").W, W)
    assert load_run(tmp_path / "tiny" / "a").config.recipe.eval_batches == 2
    # a base seed: every run retrained, each keeping its offset (a at 0 + 5, b at 2 + 5)
    tms.reproduce.reproduce(["tiny"], tmp_path, report=False, overrides=Overrides(seed=5))
    assert [c.seed for c in tiny[2:]] == [5, 7]


def test_claims_table_names_the_experiment_and_quick_claims_are_not_checked():
    table = format_claims_table([
        ClaimResult("X-1", "e1", "", "", 0.5, ">= 0.4", True),
        ClaimResult("X-1", "e2", "", "", float("nan"), "<= 1", False),
        ClaimResult("X-2", "e2", "", "", 0.25, "<= 1", None),
    ])
    lines = table.splitlines()
    assert lines[0].split() == ["experiment", "claim", "measured", "threshold", "verdict"]
    assert lines[2].split()[:2] == ["e1", "X-1"] and lines[3].split()[:2] == ["e2", "X-1"]
    assert "n/a" in lines[3] and "FAIL" in lines[3] and "NOT CHECKED" in lines[4] and "0.25" in lines[4]
    assert lines[-1].startswith("1 of 2 claims passed; 1 not checked (quick runs")


def test_quick_reproduce_measures_but_does_not_check(tmp_path, tiny):
    claims = tms.reproduce.reproduce(["tiny"], tmp_path, report=True, quick=True)
    assert claims[0].passed is None and claims[0].verdict == "NOT CHECKED" and claims[0].measured < 1.0
    md = (tmp_path / "REPORT.md").read_text()
    assert "Claims: 0 of 0 passed**; 1 not checked" in md and "**FAIL**" not in md
    assert "not checked (quick run)" in md


def test_quick_reproduce_of_everything_writes_the_layout(tmp_path):
    # Quick mode is the full pipeline on short runs: the same files as the default (tests/layout_expected.py).
    from layout_expected import expected_files, files_in

    claims = tms.reproduce.reproduce(None, tmp_path, quick=True)
    assert files_in(tmp_path) == expected_files()
    assert len(claims) == 40 and all(c.passed is None and c.verdict == "NOT CHECKED" for c in claims)
    assert all(c.measured == c.measured for c in claims if c.id != "S3-3")  # measured (not NaN), not judged


def test_every_reproduction_maps_its_run_folders_over_the_runtime_executor(tmp_path, tiny):
    from tms.executors import LocalExecutor
    from tms.runtime import Runtime

    class Recording(LocalExecutor):
        def __init__(self):
            self.calls = []

        def map(self, tasks, on_done=None, *, threads=None, progress=False):
            self.calls.append(([t.label for t in tasks], threads, progress))
            return super().map(tasks, on_done, threads=threads, progress=progress)

    ex = Recording()
    tms.reproduce.reproduce(["tiny"], tmp_path, report=False, runtime=Runtime(threads=1, executor=ex))
    assert ex.calls == [(["tiny/a", "tiny/b"], 1, False)] and len(tiny) == 2
    state = json.loads((tmp_path / "reproduce.json").read_text())
    assert state["experiments"]["tiny"]["train_seconds"] > 0 and state["environment"]["torch_threads"] == 1
    # the runtime's fields as keywords still do; a rerun maps the same folders, and every one is skipped
    tms.reproduce.reproduce(["tiny"], tmp_path, report=False, executor=ex, threads=1)
    assert ex.calls[1] == ex.calls[0] and len(tiny) == 2
    assert json.loads((tmp_path / "reproduce.json").read_text())["experiments"]["tiny"]["train_seconds"] > 0
    with pytest.raises(TypeError, match="not both"):
        tms.reproduce.reproduce(["tiny"], tmp_path, report=False, runtime=Runtime(), device="cpu")
