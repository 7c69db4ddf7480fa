"""The reproduce driver: claims.json, resuming without retraining, and interruptions."""

import json

import pytest

import tms.experiments
import tms.reproduce
from tms.claims import Claim, Measurement
from tms.config import Recipe, RunConfig
from tms.experiments.base import Experiment
from tms.runs import load_run


def tiny_experiment():
    recipe = Recipe(steps=30, batch_size=64, eval_batches=1, log_every=10)

    def runs(quick):
        return {"a": RunConfig.uniform(3, 2, [1.0], recipe=recipe),
                "b": RunConfig.uniform(3, 2, [0.2], recipe=recipe, activation="linear")}

    def mean_loss(exp_dir):
        return Measurement(float(load_run(exp_dir / "a").loss.mean()), note="mean final loss of run a")

    claim = Claim("T-1", "a tiny model learns something", "mean final loss", "<=", 1.0, mean_loss)
    return Experiment(name="tiny", title="Tiny", section="Test", summary="a test experiment",
                      runs=runs, figures=lambda d: [], claims=(claim,))


@pytest.fixture
def tiny(monkeypatch):
    exp = tiny_experiment()
    monkeypatch.setattr(tms.experiments, "all_experiments", lambda: {"tiny": exp})
    calls = []
    real_train = tms.reproduce.train

    def counting_train(cfg, **kw):
        calls.append(cfg)
        return real_train(cfg, **kw)

    monkeypatch.setattr(tms.reproduce, "train", counting_train)
    return calls


def test_reproduce_writes_claims_and_resumes_without_retraining(tmp_path, tiny):
    claims = tms.reproduce.reproduce(["tiny"], tmp_path, report=False)
    assert len(tiny) == 2
    assert [c["id"] for c in claims] == ["T-1"] and claims[0]["passed"]
    stored = json.loads((tmp_path / "claims.json").read_text())["claims"]
    assert stored[0]["measured"] == pytest.approx(claims[0]["measured"])
    assert set(stored[0]) >= {"id", "statement", "measured", "threshold", "passed"}
    state = json.loads((tmp_path / "reproduce.json").read_text())
    assert "tiny" in state["experiments"] and state["environment"]["torch_version"]
    mtime = (tmp_path / "tiny" / "a" / "model.safetensors").stat().st_mtime_ns
    tms.reproduce.reproduce(["tiny"], tmp_path, report=False)
    assert len(tiny) == 2  # nothing retrained
    assert (tmp_path / "tiny" / "a" / "model.safetensors").stat().st_mtime_ns == mtime


def test_interrupted_reproduce_keeps_finished_runs_and_resumes(tmp_path, tiny, monkeypatch):
    real = tms.reproduce.train  # counts calls into `tiny`

    def interrupt_second(cfg, **kw):
        if len(tiny) == 1:  # the first run is stored; Ctrl-C arrives during the second
            raise KeyboardInterrupt
        return real(cfg, **kw)

    monkeypatch.setattr(tms.reproduce, "train", interrupt_second)
    with pytest.raises(KeyboardInterrupt):
        tms.reproduce.reproduce(["tiny"], tmp_path, report=False)
    assert load_run(tmp_path / "tiny" / "a")
    assert not (tmp_path / "tiny" / "b").exists()
    assert not [p for p in (tmp_path / "tiny").iterdir() if p.name.startswith(".")]
    assert not (tmp_path / "claims.json").exists()

    monkeypatch.setattr(tms.reproduce, "train", real)
    tms.reproduce.reproduce(["tiny"], tmp_path, report=False)
    assert [c.activation for c in tiny] == ["relu", "linear"]  # only run b was trained on resuming


def test_changed_config_is_retrained(tmp_path, tiny, monkeypatch):
    tms.reproduce.reproduce(["tiny"], tmp_path, report=False)
    tms.reproduce.reproduce(["tiny"], tmp_path, quick=True, report=False)  # same configs in this experiment
    assert len(tiny) == 2
    # a different seed for run a -> only a is retrained
    exp = tiny_experiment()
    old_runs = exp.runs
    changed = Experiment(**{**exp.__dict__, "runs": lambda q: {**old_runs(q), "a": RunConfig.from_dict(
        dict(old_runs(q)["a"].to_dict(), seed=5))}})
    monkeypatch.setattr(tms.experiments, "all_experiments", lambda: {"tiny": changed})
    tms.reproduce.reproduce(["tiny"], tmp_path, report=False)
    assert len(tiny) == 3 and tiny[-1].seed == 5


def test_claims_table_format():
    table = tms.reproduce.format_claims_table([
        {"id": "X-1", "measured": 0.5, "threshold": ">= 0.4", "passed": True},
        {"id": "X-2", "measured": None, "threshold": "<= 1", "passed": False},
    ])
    assert "X-1" in table and "PASS" in table and "FAIL" in table and "1 of 2 claims passed" in table
