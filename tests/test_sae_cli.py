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


@pytest.fixture(scope="module")
def saes(runs):
    """A small SAE folder on the relu run (topk and jumprelu: the latter has a threshold tensor)."""
    out = runs / "small_saes"
    assert main(["sae", str(runs / "relu"), "--family", "topk,jumprelu", "--k", "2", "--steps", "5",
                 "--batch-size", "16", "--out", str(out)]) == 0
    return out


def _copy(folder, tmp_path):
    import shutil

    return shutil.copytree(folder, tmp_path / folder.name)


@pytest.mark.parametrize("name", ["sae_weights.safetensors", "tms_state.safetensors"])
def test_sae_eval_junk_safetensors_is_one_line(saes, tmp_path, capsys, name):
    folder = _copy(saes, tmp_path)
    (folder / "sae_001" / name).write_bytes(b"not a safetensors file at all")
    capsys.readouterr()
    assert main(["sae-eval", str(folder), "--batches", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert name in err and "sae_001" in err and "\n" not in err and "Traceback" not in err


def test_sae_eval_d_sae_mismatch_is_one_line(saes, tmp_path, capsys):
    folder = _copy(saes, tmp_path)
    meta = json.loads((folder / "saes.json").read_text())
    d_sae = meta["saes"][0]["config"]["d_sae"]  # the model's represented features (its weights' latents)
    meta["saes"][0]["config"]["d_sae"] = d_sae - 3
    (folder / "saes.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["sae-eval", str(folder), "--batches", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "sae_000/sae_weights.safetensors" in err and f"W_enc has shape [4, {d_sae}]" in err
    assert f"d_sae = {d_sae - 3}" in err
    assert "\n" not in err


def test_sae_out_refuses_a_folder_that_is_not_an_sae_folder(runs, tmp_path, capsys):
    import shutil

    run = shutil.copytree(runs / "relu", tmp_path / "run")
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    args = ["sae", str(run), "--family", "topk", "--k", "1", "--steps", "5", "--batch-size", "16", "--out", str(run)]
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "not a tms SAE folder" in err and "--force" in err and "\n" not in err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    assert main([*args[:-1], str(other)]) == 2
    assert (other / "keep.txt").read_text() == "mine"
    assert main([*args[:-1], str(other), "--force"]) == 0  # replaced: the SAEs, and nothing else
    assert (other / "saes.json").is_file() and not (other / "keep.txt").exists()
