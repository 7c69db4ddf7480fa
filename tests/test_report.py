"""The findings report, built from a small fabricated results folder (nothing is trained here).

The folder holds run folders written by ``save_run`` from hand-made weights, a ``claims.json`` with a passing
and a failing claim, a ``reproduce.json``, figures, and a ``phase.csv``; one registered experiment has no
folder at all and must be listed as not run.
"""

from __future__ import annotations

import json
import math
import re
import struct
import zlib
from pathlib import Path

import pytest
import torch

import tms

from tms.analysis.folder import ExperimentFolder
from tms.analysis.models import analyze_models
from tms.sections.phase.analysis import PHASE
from tms.claims import Claim, Measurement
from tms.config import Recipe, RunConfig
from tms.experiment import Experiment
from tms.metrics import gram
from tms.report import write_report
from tms.report.collect import describe_importance, describe_values, fmt_num, recipe_text
from tms.runs import load_run, save_run
from tms.train import TrainResult

RECIPE = Recipe(steps=200, batch_size=64, log_every=100)


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG, by hand (no plotting library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _svg(label: str, colour: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="320" height="200" viewBox="0 0 320 200">'
            f'<rect width="320" height="200" fill="{colour}"/><text x="20" y="100" font-size="24">{label}</text></svg>')


def _figure(exp_dir: Path, stem: str, colour: tuple[int, int, int]) -> list[Path]:
    fig_dir = exp_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    png, svg = fig_dir / f"{stem}.png", fig_dir / f"{stem}.svg"
    png.write_bytes(_png(320, 200, colour))
    svg.write_text(_svg(stem, "#%02x%02x%02x" % colour), encoding="utf-8")
    return [png, svg]


def _result(cfg: RunConfig, W: torch.Tensor, b: torch.Tensor, loss: torch.Tensor, seconds: float) -> TrainResult:
    return TrainResult(params={"W": W.float(), "b": b.float()}, final_loss=loss.float(), log_steps=[100, 200],
                       log_losses=torch.stack([loss * 2, loss]).float(), seconds=seconds, device="cpu", engine="fast")


def _intro_run(path: Path) -> RunConfig:
    """n = 5, m = 2: dense → two orthogonal features, sparse → a pentagon; restart 1 is always worse."""
    cfg = RunConfig.uniform(5, 2, [1.0, 0.3, 0.05], 0.9, restarts=2, recipe=RECIPE, seed=3)
    W = torch.zeros(cfg.n_instances, 2, 5)
    for inst in range(cfg.n_instances):
        setting = inst // 2
        if setting == 0:
            W[inst, :, 0] = torch.tensor([1.0, 0.0])
            W[inst, :, 1] = torch.tensor([0.0, 1.0])
        else:
            k = 5 if setting == 2 else 4
            for i in range(k):
                ang = 2 * math.pi * i / k
                W[inst, :, i] = torch.tensor([math.cos(ang), math.sin(ang)])
    b = torch.full((cfg.n_instances, 5), -0.1)
    loss = torch.tensor([0.10, 0.20, 0.05, 0.08, 0.02, 0.03])
    save_run(path, cfg, _result(cfg, W, b, loss, 4.2), extra={"experiment": "intro", "run": "", "quick": False})
    return cfg


def _section2_run(path: Path, activation: str, seed: int) -> RunConfig:
    n, m = 12, 4
    cfg = RunConfig.uniform(n, m, [1.0, 0.1, 0.01], 0.7, model=activation, restarts=2, recipe=RECIPE, seed=seed)
    g = torch.Generator().manual_seed(seed)
    W = torch.zeros(cfg.n_instances, m, n)
    for inst in range(cfg.n_instances):
        W[inst, :, :m] = torch.eye(m)
        if activation == "relu" and inst >= 2:
            W[inst, :, m:] = torch.randn(m, n - m, generator=g) * 0.5
    b = torch.randn(cfg.n_instances, n, generator=g) * 0.1
    loss = torch.rand(cfg.n_instances, generator=g) * 0.1 + 0.01
    save_run(path, cfg, _result(cfg, W, b, loss, 7.5), extra={"experiment": "section2", "run": activation})
    return cfg


def _theory(r: float, p: float) -> str:
    dropped = r * (p / 3 - p * p / 4)
    other = p / 3 - p * p / 4
    pair = (1 + r) * p * p / 6
    best = min(dropped, other, pair)
    return "not_represented" if best == dropped else ("dedicated" if best == other else "superposition")


def _phase(exp_dir: Path) -> None:
    rs = [10 ** (-1 + 2 * k / 7) for k in range(8)]
    ps = [10 ** (-2 + 2 * k / 7) for k in range(8)]
    settings = [(r, p) for r in rs for p in ps]
    cfg = RunConfig(n_features=2, n_hidden=1, density=tuple((p, p) for _, p in settings),
                    importance=tuple((1.0, r) for r, _ in settings), restarts=3, recipe=RECIPE, seed=0)
    W = torch.ones(cfg.n_instances, 1, 2)
    save_run(exp_dir / "relu", cfg, _result(cfg, W, torch.zeros(cfg.n_instances, 2),
                                            torch.full((cfg.n_instances,), 0.01), 30.0),
             extra={"experiment": "phase-2-1", "run": "relu"})
    rows = []
    for k, (r, p) in enumerate(settings):
        theory = _theory(r, p)
        label = "dedicated" if k == 9 else theory  # one disagreement, as real diagrams have
        counts = {lab: (9 if lab == label else 0) for lab in ("not_represented", "dedicated", "superposition")}
        rows.append({"model": "relu", "relative_importance": r, "density": p, "label": label, "theory_label": theory,
                     "extra_norm": 0.0 if label == "not_represented" else 1.0,
                     "extra_superposition": 1.0 if label == "superposition" else 0.0, "loss": 0.0123,
                     **{f"n_{k}": v for k, v in counts.items()}, "theory_loss": 0.012, "near_boundary": False,
                     "best_label": label})
    PHASE.write(exp_dir / "tables", rows)


def _claim(cid: str, statement: str) -> Claim:
    return Claim(cid, statement, "a number", ">=", 0.5, lambda d: Measurement(1.0))


EXPERIMENTS = [
    Experiment("intro", "Introduction figure", "Introduction", "Five features in two dimensions.",
               configs=lambda quick: {},
               claims=(_claim("INTRO-1", "dense: two orthogonal features"),
                       _claim("INTRO-2", "S ≈ 0.8: two antipodal pairs")),
               notes=("The figure shows the lowest-loss restart per density.",)),
    Experiment("section2", "Demonstrating superposition", "§2", "n = 12, m = 4, linear and ReLU.",
               configs=lambda quick: {}, claims=(_claim("S2-1", "linear learns the top m"),)),
    Experiment("section2-large", "A larger model", "§2", "n = 80, m = 20.",
               configs=lambda quick: {}, claims=(_claim("S2-5", "larger model behaves the same"),)),
    Experiment("phase-2-1", "Phase change, 2 features in 1 dimension", "§3", "The phase diagram.",
               configs=lambda quick: {}, claims=(_claim("S3-1", "sparsity is necessary"),),
               notes=("Each grid point keeps 9 of 10 models.",)),
]

CLAIMS = [
    {"id": "INTRO-1", "experiment": "intro", "statement": "dense: the 2 most important features are orthogonal",
     "measure": "largest |cos| between the top two", "measured": 0.01234567, "threshold": "<= 0.1", "passed": True,
     "note": "lowest-loss restart", "detail": {"cos": 0.01234567}},
    {"id": "INTRO-2", "experiment": "intro", "statement": "S ≈ 0.8: two antipodal pairs",
     "measure": "pairs found", "measured": 1.0, "threshold": ">= 2", "passed": False,
     "note": "found a square instead <of pairs> & more", "detail": {}},
    {"id": "S2-1", "experiment": "section2", "statement": "the linear model learns the top m features",
     "measure": "max |WᵀW − I| on the top block", "measured": 0.0421, "threshold": "<= 0.1", "passed": True,
     "note": "", "detail": {}},
    {"id": "S3-1", "experiment": "phase-2-1", "statement": "at p = 1 no cell is in superposition",
     "measure": "superposition cells at p = 1", "measured": None, "threshold": "<= 0", "passed": False,
     "note": "no cell at p = 1 in this grid", "detail": {}},
    # the same id in an experiment the package no longer defines: kept, under "Other claims"
    {"id": "S3-1", "experiment": "phase-old", "statement": "at p = 1 no cell is in superposition",
     "measure": "superposition cells at p = 1", "measured": 0.0, "threshold": "<= 0", "passed": True,
     "note": "", "detail": {}},
]


def make_results(out: Path) -> Path:
    """A fabricated results folder in the layout ``tms reproduce`` writes."""
    out.mkdir(parents=True, exist_ok=True)
    _intro_run(out / "intro")
    _section2_run(out / "section2" / "linear", "linear", 1)
    _section2_run(out / "section2" / "relu", "relu", 2)
    _phase(out / "phase-2-1")
    for name in ("intro", "section2"):  # the analysis writes what the explorer shows
        analyze_models(ExperimentFolder(out / name))
    figures = {
        "intro": _figure(out / "intro", "intro_vectors", (230, 240, 255)),
        "section2": _figure(out / "section2", "section2_relu", (255, 235, 230))
        + _figure(out / "section2", "section2_linear", (235, 255, 235)),
        "phase-2-1": _figure(out / "phase-2-1", "phase_diagram", (250, 245, 220)),
    }
    state = {
        "experiments": {
            name: {"quick": False, "finished": "2026-01-01T00:00:00+00:00",
                   "figures": [p.relative_to(out).as_posix() for p in figs],
                   "train_seconds": 12.5, "wall_seconds": 20.25}
            for name, figs in figures.items()
        },
        "environment": {"tms_version": "0.1.0", "torch_version": "2.13.0+cpu", "python_version": "3.11.2",
                        "platform": "Linux-test", "cpu_count": 2, "torch_threads": 2, "cuda": None},
        "last_wall_seconds": 61.0,
    }
    (out / "reproduce.json").write_text(json.dumps(state), encoding="utf-8")
    (out / "claims.json").write_text(json.dumps({"claims": CLAIMS}), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = make_results(tmp_path_factory.mktemp("results"))
    paths = write_report(out, EXPERIMENTS)
    html = (out / "report.html").read_text(encoding="utf-8")
    md = (out / "REPORT.md").read_text(encoding="utf-8")
    return out, paths, html, md


def _page_data(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="tms-data">(.*?)</script>', html, re.S)
    assert m, "the page carries no data for its interactive plots"
    return json.loads(m.group(1).replace("<\\/", "</"))


def _visible_text(html: str) -> str:
    """The HTML with scripts and tags removed and entities decoded: what a reader sees."""
    from html import unescape

    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    html = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def test_writes_both_files_and_nothing_else(report):
    out, paths, html, md = report
    assert paths == [out / "report.html", out / "REPORT.md"]
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "a temporary file was left behind"


def test_every_claim_with_its_measured_value_and_verdict(report):
    out, _, html, md = report
    text = _visible_text(html)
    for c in CLAIMS:
        measured = fmt_num(c["measured"])
        for doc, name in ((text, "HTML"), (md, "MD")):
            assert c["id"] in doc, f"{c['id']} missing from the {name}"
            row = re.search(re.escape(c["id"]) + r".{0,400}?" + re.escape(measured), doc, re.S)
            assert row, f"{c['id']}: measured value {measured} not next to its id in the {name}"
    assert "0.01235" in text and "0.01235" in md  # 4 significant digits, the same in both
    # Failures are stated as plainly as passes, with their note; the note is escaped, not markup.
    assert text.count("FAIL") >= 2 and md.count("**FAIL**") == 2 and md.count("**PASS**") == 3
    assert "found a square instead <of pairs> & more" in text
    assert "&lt;of pairs&gt; &amp; more" in html
    assert "found a square instead &lt;of pairs> & more" in md  # not an HTML tag on GitHub
    assert "| <= 0.1 |" in md  # but a comparison stays readable
    assert "n/a" in re.search(r"S3-1.{0,400}", text, re.S).group(0)


def test_summary_counts_failures_environment_and_wall_time(report):
    _, _, html, md = report
    text = _visible_text(html)
    assert re.search(r"3\s*/\s*5\s*claims passed", text)
    # S3-1 is an id two experiments share: the summary says whose failed
    assert re.search(r"failed:\s*INTRO-2\s*,\s*S3-1 \(phase-2-1\)", text)
    assert "Claims: 3 of 5 passed" in md and "**Failed:** INTRO-2, S3-1 (phase-2-1)." in md
    for doc in (text, md):
        assert "2.13.0+cpu" in doc and "0.1.0" in doc and "cpu" in doc
        assert "1 min 1 s" in doc  # wall time of the last reproduce: reproduce.json's last_wall_seconds = 61
        assert "49.2 s" in doc  # training of all stored runs, from their config.json: 4.2 + 2 × 7.5 + 30
        assert "15.0 s" in doc  # section2's two runs
    assert re.search(r"CPU count\s*2", text) and "2 CPUs" in md
    assert re.search(r"3\s*/\s*4\s*experiments run", text) and "Experiments run: 3 of 4." in md


def test_setup_is_derived_from_the_run_folders(report):
    _, _, html, md = report
    text = _visible_text(html)
    for doc in (text, md):
        assert "I_i = 0.9^i" in doc and "I_i = 0.7^i" in doc
        assert "1, 0.3, 0.05" in doc  # intro densities
        assert "6 (3 settings × 2 restarts)" in doc
        assert re.search(r"Recipe:\s+AdamW, 200 steps, batch 64, lr 0.001, weight decay 0.01, init paper; "
                         r"the paper recipe has 10000 steps and batch 1024\.", doc)
        assert "4.2 s, fast engine, cpu" in doc
        assert "I_0 = 1; I_1: 8 values from 0.1 to 10, log-spaced across settings" in doc  # phase grid
        assert "ReLU output" in doc and "linear" in doc
        assert "The figure shows the lowest-loss restart per density." in doc  # notes


def test_sections_follow_the_paper_and_registry_order(report):
    _, _, html, md = report
    heads = re.findall(r"^## (.+)$", md, re.M)
    assert heads == ["Summary", "Introduction", "§2 Demonstrating superposition", "§3 Superposition as a phase change",
                     "Other claims"]
    order = [html.index(f'id="exp-{name}"') for name in ("intro", "section2", "section2-large", "phase-2-1")]
    assert order == sorted(order)


def test_missing_experiment_is_listed_as_not_run(report):
    _, _, html, md = report
    article = re.search(r'<article class="experiment notrun" id="exp-section2-large">(.*?)</article>', html, re.S)
    assert article, "section2-large is not marked as not run"
    assert "NOT RUN" in article.group(1) and "S2-5" in article.group(1) and "NOT CHECKED" in article.group(1)
    assert "### A larger model (`section2-large`): NOT RUN" in md
    assert re.search(r"\*\*S2-5\*\*.*NOT CHECKED", md)
    assert "1 not checked" in md


def test_ids_are_unique_and_every_internal_link_resolves(report):
    _, _, html, _ = report
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for target in re.findall(r'href="#([^"]+)"', html):
        assert target in ids, f"link to #{target} leads nowhere"
    assert 'id="claim-phase-2-1-s3-1"' in html and 'id="claim-phase-old-s3-1"' in html


def test_html_is_self_contained(report):
    out, _, html, _ = report
    # No reference to anything outside the file: no URL at all, no external script, style sheet or font.
    assert not re.search(r"https?://", html), "the page mentions a URL"
    assert not re.search(r"<(script|img|iframe|source|embed)\b[^>]*\bsrc=\"(?!data:)", html)
    assert not re.search(r"<link\b[^>]*rel=\"stylesheet\"", html) and "@import" not in html
    assert not re.search(r"url\((?!data:)", html)
    for href in re.findall(r'href="([^"]*)"', html):
        assert href.startswith(("#", "data:")) or (out / href).is_file(), f"link to {href} leads outside the results"
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_figures_are_embedded_with_static_copies_beside(report):
    out, _, html, md = report
    imgs = re.findall(r'<img src="data:image/(svg\+xml|png);base64,([A-Za-z0-9+/=]+)" alt="([^"]+)"', html)
    assert sorted(alt for _, _, alt in imgs) == ["intro_vectors", "phase_diagram", "section2_linear", "section2_relu"]
    kind, data, _ = next(i for i in imgs if i[2] == "intro_vectors")
    import base64

    assert kind == "svg+xml" and base64.b64decode(data) == (out / "intro/figures/intro_vectors.svg").read_bytes()
    for stem in ("intro/figures/intro_vectors", "section2/figures/section2_relu", "phase-2-1/figures/phase_diagram"):
        assert f'href="{stem}.png"' in html and f'href="{stem}.svg"' in html
        assert f"]({stem}.png)" in md  # Markdown shows the PNG by relative path
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert not link.startswith(("/", "http")) and (out / link).is_file()


def test_explorer_embeds_gram_of_the_lowest_loss_restart(report):
    out, _, html, _ = report
    data = _page_data(html)
    explorers = {r["run"]: r for x in data["explorers"].values() for r in x["runs"]}
    assert set(explorers) == {"intro", "section2/linear", "section2/relu"}
    # linear and ReLU share their densities, so one selector drives both
    groups = [{r["run"] for r in x["runs"]} for x in data["explorers"].values()]
    assert {"section2/linear", "section2/relu"} in groups
    run = load_run(out / "section2" / "relu")
    G = gram(run.W.double())
    for s, setting in enumerate(explorers["section2/relu"]["settings"]):
        best = run.best_instances()[s]
        assert setting["instance"] == best and setting["density"] == run.config.density[s][0]
        assert torch.allclose(torch.tensor(setting["gram"], dtype=torch.float64), G[best], atol=1e-4)
        assert len(setting["restart_loss"]) == 2
    intro = explorers["intro"]
    assert intro["m"] == 2 and len(intro["settings"][2]["W"][0]) == 5  # 2-D vectors for the m = 2 model
    assert intro["settings"][0]["restart"] == 0  # restart 0 has the lower loss everywhere


def test_phase_diagram_data_from_phase_csv(report):
    _, _, html, _ = report
    phases = list(_page_data(html)["phases"].values())
    assert len(phases) == 1 and phases[0]["model"] == "relu" and phases[0]["source"] == "phase-2-1/tables/phase.csv"
    cells = phases[0]["cells"]
    assert len(cells) == 64 and len(phases[0]["r_values"]) == 8 and len(phases[0]["p_values"]) == 8
    assert sum(c["label"] != c["theory"] for c in cells) == 1
    assert all(sum(c["counts"].values()) == 9 for c in cells)


def test_report_with_no_bookkeeping_files(tmp_path):
    """Run folders alone (no reproduce.json, no claims.json): the experiment shows as partial, claims unchecked."""
    _intro_run(tmp_path / "intro")
    write_report(tmp_path, EXPERIMENTS[:1])
    md = (tmp_path / "REPORT.md").read_text(encoding="utf-8")
    assert "(`intro`): PARTIAL" in md and "Claims: 0 of 0 passed" in md and "2 not checked" in md
    assert f"tms {tms.__version__}, torch {torch.__version__}" in md  # environment from what the run folder recorded


def test_corrupt_bookkeeping_is_reported_not_fatal(tmp_path):
    _intro_run(tmp_path / "intro")
    (tmp_path / "claims.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "intro" / "model.safetensors").write_bytes(b"garbage")
    write_report(tmp_path, EXPERIMENTS[:1])
    md = (tmp_path / "REPORT.md").read_text(encoding="utf-8")
    assert "claims.json is not valid JSON" in md and "model.safetensors is corrupt" in md


def test_the_report_reads_results_as_data_and_lists_what_did_not_run(tmp_path):
    # reproduce.json records every declaration (the catalog), so the report lists the experiments not run and
    # is written with the sections' code made unimportable: a results folder stays data.
    import subprocess
    import sys

    from tms.registry import all_experiments
    from tms.reproduce import reproduce

    reproduce(["intro"], tmp_path, quick=True, report=False)
    code = ("import sys; sys.modules['tms.sections'] = None; sys.modules['tms.registry'] = None; "
            "from tms.report import write_report; write_report(sys.argv[1])")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    md = (tmp_path / "REPORT.md").read_text(encoding="utf-8")
    assert "(`intro`): NOT RUN" not in md and "INTRO-1" in md
    for name, exp in all_experiments().items():
        if name != "intro" and exp.suite == "paper":  # the catalog holds the suites that ran
            assert f"(`{name}`): NOT RUN" in md
    state = json.loads((tmp_path / "reproduce.json").read_text())
    assert state["experiments"]["intro"]["declaration"]["claims"][0]["id"] == "INTRO-1"
    assert state["experiments"]["intro"]["origin"]["builtin"] is True


def test_describe_helpers():
    assert describe_values([1.0, 0.3, 0.1]) == "1, 0.3, 0.1"
    assert describe_values([20 ** -(k / 9) for k in range(10)]) == "10 values from 0.05 to 1, log-spaced"
    assert describe_importance([[0.7**i for i in range(20)]] * 3) == "I_i = 0.7^i"
    assert describe_importance([[1.0] * 4]) == "I = 1 for every feature"
    assert fmt_num(None) == "n/a" and fmt_num(float("nan")) == "n/a" and fmt_num(0.000123456) == "0.0001235"


def test_recipe_text_names_the_optimizer_and_every_field_that_is_not_the_papers():
    paper = "AdamW, 10000 steps, batch 1024, lr 0.001, weight decay 0.01, init paper"
    assert recipe_text(Recipe()) == f"the paper recipe ({paper})"
    assert recipe_text(Recipe(optimizer="sgd", momentum=0.9, lr=0.01)) == (
        "SGD (momentum 0.9), 10000 steps, batch 1024, lr 0.01, weight decay 0.01, init paper; "
        "the paper recipe has AdamW and lr 0.001")
    assert recipe_text(Recipe(optimizer="sgd", momentum=0.5)) == (
        "SGD (momentum 0.5), 10000 steps, batch 1024, lr 0.001, weight decay 0.01, init paper; "
        "the paper recipe has AdamW")
    assert recipe_text(Recipe(eval_batches=2, log_every=50)) == (
        f"{paper}, loss logged every 50 steps, final loss on 2 fresh batches; "
        "the paper recipe has loss logged every 100 steps and final loss on 8 fresh batches")
    assert recipe_text(Recipe().quick()) == (
        "AdamW, 300 steps, batch 256, lr 0.001, weight decay 0.01, init paper, loss logged every 50 steps, "
        "final loss on 2 fresh batches; the paper recipe has 10000 steps, batch 1024, loss logged every 100 steps "
        "and final loss on 8 fresh batches")
    assert recipe_text(Recipe(optimizer="adam", betas=(0.8, 0.99), eps=1e-6, init="per_model")) == (
        "Adam, 10000 steps, batch 1024, lr 0.001, weight decay 0.01, init per_model, betas (0.8, 0.99), eps 1e-06; "
        "the paper recipe has AdamW, init paper, betas (0.9, 0.999) and eps 1e-08")
    # a field the optimizer ignores is named, but trains nothing differently
    assert recipe_text(Recipe(momentum=0.5)) == f"the paper recipe ({paper}, AdamW ignores momentum 0.5)"
    assert recipe_text(Recipe(optimizer="sgd", eps=1e-6)) == (
        "SGD (momentum 0.9), 10000 steps, batch 1024, lr 0.001, weight decay 0.01, init paper, SGD ignores eps 1e-06; "
        "the paper recipe has AdamW")
    # numbers in full: an lr a hair from the paper's is not printed as the paper's
    assert recipe_text(Recipe(lr=0.0010001)).endswith("lr 0.0010001, weight decay 0.01, init paper; "
                                                      "the paper recipe has lr 0.001")


def test_recipe_text_describes_every_field_of_the_recipe():
    # One value off the paper's per field of Recipe: a field added to Recipe must be added here and worded.
    import dataclasses

    changed = {"steps": 300, "batch_size": 64, "lr": 0.01, "weight_decay": 0.0, "betas": (0.8, 0.99), "eps": 1e-6,
               "init": "per_model", "log_every": 10, "eval_batches": 2, "optimizer": "adam", "momentum": 0.5,
               "schedule": "cosine", "warmup_steps": 100, "lr_floor": 0.1, "gamma": -1.0, "loss": "target-only"}
    # the target-only loss's penalty, on top of that loss (any other loss refuses it)
    target_only = Recipe(loss="target-only")
    assert recipe_text(Recipe(loss="target-only", loss_penalty=1e-4)) != recipe_text(target_only)
    assert set(changed) | {"loss_penalty"} == {f.name for f in dataclasses.fields(Recipe)}
    for name, value in changed.items():
        assert recipe_text(Recipe(**{name: value})) != recipe_text(Recipe()), name
    # a field used only with another's value is named as ignored, and is no difference
    assert recipe_text(Recipe(lr_floor=0.1)).endswith("a constant schedule ignores lr floor 0.1 x lr)")
    assert recipe_text(Recipe(schedule="cosine", warmup_steps=100)).endswith(
        "the paper recipe has constant lr and 0 warm-up steps")


def test_runs_on_other_recipes_show_their_own(tmp_path):
    # Two runs of one experiment that differ only in evaluation: no common recipe, each run's in its row.
    for sub, recipe in (("linear", RECIPE), ("relu", Recipe(steps=200, batch_size=64, eval_batches=2))):
        cfg = RunConfig.uniform(12, 4, [1.0], 0.7, model=sub, restarts=1, recipe=recipe)
        save_run(tmp_path / "section2" / sub, cfg,
                 _result(cfg, torch.zeros(1, 4, 12), torch.zeros(1, 12), torch.tensor([0.1]), 1.0))
    write_report(tmp_path, EXPERIMENTS[1:2])
    md = (tmp_path / "REPORT.md").read_text(encoding="utf-8")
    text = _visible_text((tmp_path / "report.html").read_text(encoding="utf-8"))
    common = "AdamW, 200 steps, batch 64, lr 0.001, weight decay 0.01, init paper"
    for doc in (md, text):
        assert "Recipe:" not in doc
        assert f"{common}; the paper recipe has 10000 steps and batch 1024" in doc
        assert (f"{common}, final loss on 2 fresh batches; the paper recipe has 10000 steps, batch 1024 and final "
                "loss on 8 fresh batches") in doc


def test_cli_report(tmp_path, capsys):
    from tms.cli import main

    make_results(tmp_path)
    assert main(["report", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "report.html"), str(tmp_path / "REPORT.md")]


# -- in a browser --------------------------------------------------------------------------------------


def test_report_renders_in_headless_chromium(report, tmp_path):
    """No console error, no request outside the file, figures decoded, hovers answered, and a screenshot.

    Set TMS_REPORT_SCREENSHOTS=DIR to keep the screenshots (to look at them); they go to tmp_path otherwise.
    """
    import os

    from render_report import find_chromium, render

    if find_chromium() is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium, or set TMS_CHROMIUM)")
    out, _, _, _ = report
    shots = Path(os.environ.get("TMS_REPORT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    res = render(out / "report.html", shots / "report-top.png", shots / "report-full.png")
    assert res.problems == []
    assert res.console_errors == [] and res.outside_requests == []
    assert res.page["images"] == 4 and res.page["broken_images"] == []
    assert res.page["explorers"] == 2 and res.page["phases"] == 1 and res.page["canvases"] >= 4
    assert "‖W_0‖² =" in res.hover["WᵀW explorer"] and "feature 0" in res.hover["WᵀW explorer"]
    assert "r = 10" in res.hover["phase diagram"] and "models kept: 9" in res.hover["phase diagram"]
    assert res.clicks["explorer"][1].startswith("density p = 1 ") and res.clicks["phase_modes"] == 5
    for shot in res.screenshots:
        data = Path(shot).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 20_000


def test_browser_check_catches_errors_and_outside_requests(tmp_path):
    """The check itself: a page that logs an error, throws, and loads an image from elsewhere must fail it.

    The image points at port 9 of the loopback, which Chromium refuses as unsafe: nothing leaves the machine.
    """
    from render_report import find_chromium, render

    if find_chromium() is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium, or set TMS_CHROMIUM)")
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body>'
                    '<img src="http://127.0.0.1:9/x.png" alt="outside">'
                    '<script>console.error("boom"); notDefined();</script></body></html>', encoding="utf-8")
    res = render(page)
    assert "boom" in res.console_errors
    assert any("notDefined" in e for e in res.console_errors)
    assert res.outside_requests == ["http://127.0.0.1:9/x.png"]
    assert res.page["broken_images"] == ["outside"]
    assert len(res.problems) >= 4


def test_markdown_tables_are_well_formed(report):
    """Every row of every Markdown table has as many cells as its header (a stray '|' would shift them)."""
    _, _, _, md = report
    tables, current = [], []
    for line in md.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    assert len(tables) >= 6
    for table in tables:
        widths = {len(re.split(r"(?<!\\)\|", row)) for row in table}
        assert len(widths) == 1, table[0]
        assert re.fullmatch(r"\|(---\|)+", table[1])
