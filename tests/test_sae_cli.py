"""``tms sae`` and ``tms sae-eval``: SAEs on a stored run from the command line, and their one-line errors."""

from __future__ import annotations

import json

import pytest

from tms.cli import main
from tms.config import Recipe, RunConfig
from tms.runs import save_run
from tms.sae.evaluate import EVAL
from tms.train import train as train_model


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    cfg = RunConfig.uniform(12, 4, [0.1], 1.0, recipe=Recipe(steps=300, batch_size=128))
    save_run(root / "relu", cfg, train_model(cfg))
    untied = RunConfig.uniform(4, 2, [0.1], 1.0, model="untied-abs", data="signed", recipe=Recipe(steps=5))
    save_run(root / "abs", untied, train_model(untied))
    return root


def test_sae_trains_writes_and_evaluates(runs, capsys):
    out = runs / "saes"
    args = ["sae", str(runs / "relu"), "--family", "topk,relu,jumprelu", "--k", "1,2", "--penalty", "0.05",
            "--steps", "30", "--batch-size", "64", "--out", str(out)]
    assert main(args) == 0
    meta = json.loads((out / "saes.json").read_text())
    assert [(s["config"]["family"], s["config"]["k"]) for s in meta["saes"]] == [
        ("topk", 1), ("topk", 2), ("relu", None), ("jumprelu", None)]
    assert (out / "sae_000" / "cfg.json").is_file() and (out / "sae_003" / "sae_weights.safetensors").is_file()
    rows = EVAL.read(out)
    assert len(rows) == 4 and all(0.0 <= r.mmcs <= 1.0 for r in rows)
    stamp = (out / "saes.json").stat().st_mtime_ns
    assert main(args) == 0  # complete: not trained again
    assert (out / "saes.json").stat().st_mtime_ns == stamp
    capsys.readouterr()
    assert main(["sae-eval", str(out), "--batches", "1"]) == 0
    assert "mmcs" in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    (["--k", "13", "--d-sae", "12"], "k must be at most d_sae (12), got 13"),
    (["--family", "relu", "--penalty", "-0.5"], "penalty must be >= 0"),
    (["--family", "gated"], "family must be one of relu, topk"),
])
def test_sae_bad_input_is_one_line(runs, capsys, extra, message):
    assert main(["sae", str(runs / "relu"), "--steps", "5", "--out", str(runs / "bad"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (runs / "bad").exists()


def test_sae_refuses_a_family_without_hidden_activations(runs, capsys):
    assert main(["sae", str(runs / "abs"), "--steps", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "untied-abs" in err and "no hidden activations" in err and "\n" not in err


def test_sae_eval_refuses_a_folder_that_is_not_one(runs, capsys):
    assert main(["sae-eval", str(runs / "relu")]) == 2
    assert "not an SAE folder" in capsys.readouterr().err
