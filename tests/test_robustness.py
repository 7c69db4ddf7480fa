"""``tms robustness``: variant parsing, and the claims table over variants from real (quick) runs."""

import csv

import pytest

from tms.cli import main
from tms.config import Overrides
from tms.errors import ConfigError
from tms.layout import ROBUSTNESS_CSV as CSV_FILE
from tms.layout import ROBUSTNESS_MD as MD_FILE
from tms.robustness import parse_variant, run_robustness
from tms.runs import load_run


def test_parse_variant():
    assert parse_variant("paper").name == "paper" and parse_variant("paper").overrides == Overrides()
    v = parse_variant("lr=3e-3")
    assert v.name == "lr=0.003" and v.overrides == Overrides(recipe=(("lr", 0.003),))
    v = parse_variant("seed=2,batch=256,init=per_model")
    assert v.overrides == Overrides(seed=2, recipe=(("batch_size", 256), ("init", "per_model")))
    assert v.name == "seed=2,batch=256,init=per_model"
    assert dict(parse_variant("wd=0,steps=50").overrides.recipe) == {"weight_decay": 0.0, "steps": 50}


@pytest.mark.parametrize("spec, match", [
    ("lr=x", "variant lr must be a number, got 'x'"),
    ("batch=1.5", "variant batch must be an integer"),
    ("foo=1", "keys lr, lrx, batch, steps, wd, init, optimizer, momentum, seed"),
    ("lrx=0", "lr_scale must be in (0, 10000]"),
    ("optimizer=rmsprop", "optimizer must be one of adamw, adam, sgd"),
    ("momentum=1", "momentum must be in [0, 1)"),
    ("lr", "keys lr, lrx, batch"),
    ("lr=-1", "lr must be in (0, 10]"),
    ("seed=-1", "seed must be an integer >= 0"),
    ("init=bogus", "init must be one of"),
    ("batch=0", "batch_size must be"),
])
def test_bad_variants_name_the_field(spec, match):
    with pytest.raises(ConfigError, match=match.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        parse_variant(spec)


def test_variants_must_differ(tmp_path):
    with pytest.raises(ConfigError, match="different"):
        run_robustness(["intro"], tmp_path, ["lr=0.01", "lr=1e-2"], quick=True)
    assert not (tmp_path / CSV_FILE).exists()


def test_robustness_table_over_variants(tmp_path):
    rows = run_robustness(["intro"], tmp_path, ["paper", "lr=0.01", "seed=3"], quick=True)
    assert [(r["variant"], r["claim"]) for r in rows] == [
        (v, c) for v in ("paper", "lr=0.01", "seed=3") for c in ("INTRO-1", "INTRO-2", "INTRO-3")
    ]
    # each variant trained its own runs with the change applied on top of the experiment's recipe
    paper, fast, seeded = (load_run(tmp_path / v / "intro").config for v in ("paper", "lr=0.01", "seed=3"))
    assert (paper.recipe.lr, paper.seed) == (0.001, 0) and fast.recipe.lr == 0.01 and seeded.seed == 3
    assert fast.recipe.steps == paper.recipe.steps  # only the named field changes
    with open(tmp_path / CSV_FILE, newline="") as f:
        table = list(csv.DictReader(f))
    # quick runs are a smoke test: measured, not checked
    assert len(table) == 9 and {r["passed"] for r in table} == {""} and all(r["passed"] is None for r in rows)
    assert [float(r["measured"]) for r in table] == [r["measured"] for r in rows]
    md = (tmp_path / MD_FILE).read_text()
    assert "| claim | paper | lr=0.01 | seed=3 |" in md and "| INTRO-3 (intro) |" in md and "not checked" in md
    assert md.rstrip().splitlines()[-1].endswith("0/3 |")
    # a second call trains nothing: every variant's runs are complete
    mtime = (tmp_path / "seed=3" / "intro" / "model.safetensors").stat().st_mtime_ns
    run_robustness(["intro"], tmp_path, ["seed=3"], quick=True)
    assert (tmp_path / "seed=3" / "intro" / "model.safetensors").stat().st_mtime_ns == mtime


def test_a_diverged_variant_fails_its_claims_and_the_others_still_run(tmp_path, monkeypatch):
    import tms.folders
    from tms.errors import TMSError

    real = tms.folders.train

    def train(cfg, **kw):
        if cfg.recipe.lr > 1:
            raise TMSError("training diverged: the final loss is not finite")
        return real(cfg, **kw)

    monkeypatch.setattr(tms.folders, "train", train)
    rows = run_robustness(["intro"], tmp_path, ["lr=5", "paper"], quick=True)
    bad = [r for r in rows if r["variant"] == "lr=5"]
    assert [r["claim"] for r in bad] == ["INTRO-1", "INTRO-2", "INTRO-3"]
    assert all(r["passed"] is False and r["measured"] is None and "diverged" in r["note"] for r in bad)
    assert bad[0]["threshold"] == "<= 0.1"
    assert len([r for r in rows if r["variant"] == "paper"]) == 3
    md = (tmp_path / MD_FILE).read_text()
    assert "n/a **FAIL**" in md and "- lr=5: no claims measured: training diverged" in md


def test_cli_robustness_errors_are_one_line(tmp_path, capsys):
    assert main(["robustness", "--variant", "lr=x", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "variant lr must be a number" in err and not (tmp_path / "r").exists()
    assert main(["robustness", "nonsense", "--out", str(tmp_path / "r")]) == 2
    assert "unknown experiment 'nonsense'" in capsys.readouterr().err


def test_report_shows_the_robustness_table_and_flags_a_corrupt_one(tmp_path, capsys):
    from tms.report import write_report

    results = tmp_path / "results"
    assert main(["reproduce", "intro", "--quick", "--out", str(results), "--no-progress"]) == 0
    code = main(["robustness", "intro", "--quick", "--variant", "paper", "--variant", "seed=3",
                 "--out", str(results / "robustness"), "--no-progress"])
    assert code == 0 and "report:" in capsys.readouterr().out  # the results folder's report was rewritten
    md = (results / "REPORT.md").read_text()
    assert "## How robust are the claims to the recipe" in md and "| claim | paper | seed=3 |" in md
    html = (results / "report.html").read_text()
    assert 'id="sec-robustness"' in html and "<th>seed=3</th>" in html
    (results / "robustness" / CSV_FILE).write_text("variant,claim\nx,y\n")
    write_report(results)
    md = (results / "REPORT.md").read_text()
    assert "## How robust are the claims to the recipe" not in md and "not a robustness.csv table" in md


def _row(variant, claim, measured, passed, note=""):
    return {"variant": variant, "experiment": "intro", "claim": claim, "measured": measured, "threshold": "<= 0.1",
            "passed": passed, "note": note}


def test_the_table_turns_to_a_row_per_variant_when_variants_outnumber_claims():
    from tms.claims.matrix import Matrix, markdown_table

    few = [_row(v, c, 0.05, True) for v in ("a", "b") for c in ("INTRO-1", "INTRO-2", "INTRO-3")]
    lines = markdown_table(Matrix.of(few)).splitlines()
    assert lines[0] == "| claim | a | b |" and lines[-1] == "| passed | 3/3 | 3/3 |"
    many = [_row(v, c, 0.2 if v == "c" and c == "INTRO-2" else 0.05, not (v == "c" and c == "INTRO-2"))
            for v in ("a", "b", "c") for c in ("INTRO-1", "INTRO-2")]
    many += [_row("d", c, None, False, "training diverged") for c in ("INTRO-1", "INTRO-2")]
    mx = Matrix.of(many)
    assert mx.by_variant
    lines = markdown_table(mx).splitlines()
    assert lines[0] == "| variant | INTRO-1 (intro) | INTRO-2 (intro) | passed |"
    assert lines[1] == "|---|---:|---:|---:|"
    assert lines[4] == "| c | 0.05 PASS | 0.2 **FAIL** | 1/2 |"
    assert lines[5] == "| d | n/a **FAIL** | n/a **FAIL** | 0/2 |"
    assert lines[-1] == "- d: no claims measured: training diverged"
