"""Gather what the report shows from a results folder: run folders' configs, ``claims.json``,
``reproduce.json``, and the tables and figures the pipeline wrote. Reads only; nothing is retrained, analysed
or redrawn, and no number that a table holds is computed again.

The result is plain data (:class:`ReportData`) that the HTML and Markdown templates render the same way, so the
two documents cannot disagree.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from .._version import __version__
from ..analysis.folder import Tables
from ..analysis.models import read_explorer
from ..analysis.phase_table import PHASE
from ..claims.base import ClaimResult
from ..claims.matrix import read_table as read_robustness
from ..config import Recipe, RunConfig
from ..errors import RunFolderError
from ..kinds import LOSSES, MODELS, OPTIMIZERS
from ..layout import (
    CLAIMS_FILE,
    FIGURES_DIR,
    ROBUSTNESS_CSV,
    ROBUSTNESS_DIR,
    ROBUSTNESS_HEATMAP,
    STATE_FILE,
    TABLES_DIR,
)
from ..runs import check_run, iter_runs, read_meta

log = logging.getLogger(__name__)

#: Headings of the paper's sections, for ``Experiment.section`` values that give only the number.
SECTION_TITLES = {
    "Introduction": "Introduction",
    "§2": "§2 Demonstrating superposition",
    "§3": "§3 Superposition as a phase change",
    "§4": "§4 The geometry of superposition",
    "§5": "§5 Superposition and learning dynamics",
    "§6": "§6 Relationship to adversarial robustness",
    "§7": "§7 Superposition in a privileged basis",
    "§8": "§8 Computation in superposition",
}

#: Hover views an analysis writes beside its tables (:mod:`tms.sections.geometry.analysis`).
SCATTER_PATTERN = "*.scatter.json"
# Inline an SVG figure up to this size; above it the PNG copy is embedded instead.
SVG_INLINE_MAX_BYTES = 600_000
# CSV tables up to this size are shown in the page; larger ones are linked.
TABLE_MAX_ROWS, TABLE_MAX_COLUMNS = 40, 16


@dataclass
class FigureRef:
    """One figure, by stem, with its static copies (paths relative to the results folder)."""

    stem: str
    png: str | None = None
    svg: str | None = None


@dataclass
class TableRef:
    """A CSV table the analysis wrote (how often each configuration was reached, a phase grid, …)."""

    rel: str
    header: list[str]
    rows: list[list[str]]
    """Its rows when small enough to show in the page, else empty."""
    n_rows: int


@dataclass
class RunSetup:
    """The setup of one stored run folder, in words and numbers (from its config.json only)."""

    rel: str
    model: str
    n_features: int
    n_hidden: int
    importance: str
    density: str
    n_settings: int
    restarts: int
    n_instances: int
    seed: int
    recipe: Recipe
    seconds: float | None
    engine: str
    device: str
    torch_threads: int | None
    cpu_count: int | None
    created: str
    tms_version: str
    torch_version: str


@dataclass
class ExperimentData:
    name: str
    title: str
    section: str
    summary: str
    notes: list[str]
    status: str
    """'finished', 'partial' (runs stored, never finished) or 'not run'."""
    suite: str = "paper"
    quick: bool = False
    finished: str = ""
    train_seconds: float | None = None
    """Training time of the stored runs (their config.json), else what reproduce.json recorded."""
    wall_seconds: float | None = None
    runs: list[RunSetup] = field(default_factory=list)
    figures: list[FigureRef] = field(default_factory=list)
    tables: list[TableRef] = field(default_factory=list)
    claims: list[ClaimResult] = field(default_factory=list)
    unchecked: list[tuple[str, str, str]] = field(default_factory=list)
    """(id, statement, threshold) of claims the experiment defines that claims.json does not hold."""
    explorers: list[dict[str, Any]] = field(default_factory=list)
    """Groups of run folders for the WᵀW explorer (runs in a group share their density settings)."""
    phases: list[dict[str, Any]] = field(default_factory=list)
    """Phase diagrams from phase.csv, one per model type."""
    scatters: list[dict[str, Any]] = field(default_factory=list)
    """Hover views from the analysis's ``tables/*.scatter.json``."""
    problems: list[str] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return "exp-" + _slug(self.name)

    @property
    def n_passed(self) -> int:
        return sum(1 for c in self.claims if c.passed)

    @property
    def n_not_checked(self) -> int:
        return sum(1 for c in self.claims if not c.checked) + len(self.unchecked)

    @property
    def n_checked(self) -> int:
        return sum(1 for c in self.claims if c.checked)

    @property
    def common_recipe(self) -> Recipe | None:
        """The recipe every run shares (every field), or None when they differ."""
        recipes = {r.recipe for r in self.runs}
        return self.runs[0].recipe if len(recipes) == 1 else None


@dataclass
class ReportData:
    out: Path
    generated: str
    tms_version: str
    environment: dict[str, Any]
    last_wall_seconds: float | None
    experiments: list[ExperimentData]
    other_claims: list[ClaimResult]
    problems: list[str]
    devices: list[str]
    engines: list[str]
    robustness: list[dict[str, Any]] = field(default_factory=list)
    """Rows of ``robustness/robustness.csv`` (``tms robustness``), when the folder has one."""
    robustness_heatmap: FigureRef | None = None
    """``robustness/robustness_heatmap`` (the share of variants passing per claim over two recipe axes), if drawn."""

    @property
    def claims(self) -> list[ClaimResult]:
        return [c for e in self.experiments for c in e.claims] + self.other_claims

    @property
    def checked(self) -> list[ClaimResult]:
        return [c for c in self.claims if c.checked]

    @property
    def failed(self) -> list[ClaimResult]:
        return [c for c in self.claims if c.passed is False]

    @property
    def n_passed(self) -> int:
        return sum(1 for c in self.claims if c.passed)

    @property
    def n_unchecked(self) -> int:
        """Claims without a verdict: not in claims.json, or measured by a quick run."""
        return sum(len(e.unchecked) for e in self.experiments) + sum(1 for c in self.claims if not c.checked)

    @property
    def wall_seconds_sum(self) -> float | None:
        vals = [e.wall_seconds for e in self.experiments if e.wall_seconds is not None]
        return sum(vals) if vals else None

    @property
    def train_seconds_sum(self) -> float | None:
        vals = [e.train_seconds for e in self.experiments if e.train_seconds is not None]
        return sum(vals) if vals else None

    @property
    def any_quick(self) -> bool:
        return any(e.quick for e in self.experiments if e.status != "not run")

    def sections(self) -> list[tuple[str, list[ExperimentData]]]:
        """Experiments grouped by suite, then section, in order of first appearance (registry order); a section
        of a suite other than the paper's is headed with the suite's name."""
        order: dict[str, list[ExperimentData]] = {}
        for e in self.experiments:
            key = e.section if e.suite == "paper" else f"{e.suite}: {e.section}" if e.section else e.suite
            order.setdefault(key, []).append(e)
        return list(order.items())


# -- formatting shared by both writers ------------------------------------------------------------------


def _slug(text: str) -> str:
    out = "".join(ch.lower() if ch.isalnum() else "-" for ch in text)
    return "-".join(p for p in out.split("-") if p) or "x"


def claim_anchor(experiment: str, cid: str) -> str:
    """Claim ids repeat across experiments (S3-1 … S3-4 for 2 → 1 and 3 → 2), so anchors name both."""
    return f"claim-{_slug(experiment)}-{_slug(cid)}"


def claim_labels(claims: list[ClaimResult], every: list[ClaimResult]) -> list[str]:
    """How the summary names each of ``claims``: its id, plus its experiment where another experiment of
    ``every`` (all claims in the report) shares the id."""
    seen: dict[str, set[str]] = {}
    for c in every:
        seen.setdefault(c.id, set()).add(c.experiment)
    return [f"{c.id} ({c.experiment})" if len(seen[c.id]) > 1 else c.id for c in claims]


def section_title(section: str) -> str:
    return SECTION_TITLES.get(section, section)


def section_anchor(section: str) -> str:
    return "sec-" + _slug(section.replace("§", "s"))


def fmt_num(v: Any) -> str:
    """Numbers as the report prints them everywhere (4 significant digits); None or non-finite → 'n/a'."""
    if v is None:
        return "n/a"
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(x):
        return "n/a"
    return f"{x:.4g}"


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "n/a"
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(round(s % 60))} s"
    return f"{int(s // 3600)} h {int(round(s % 3600 / 60))} min"


def timing_text(e: "ExperimentData") -> str:
    """When the experiment finished and how long it took, as one clause list ('' when nothing is known)."""
    bits = []
    if e.finished:
        bits.append(f"finished {e.finished}")
    if e.train_seconds is not None:
        bits.append(f"training {fmt_seconds(e.train_seconds)}")
    if e.wall_seconds is not None:
        bits.append(f"wall time of its last reproduce {fmt_seconds(e.wall_seconds)}")
    return "; ".join(bits)


def short_text(text: Any, limit: int = 240) -> str:
    """A note cut to one line of about ``limit`` characters, for the summary (the claim table has it whole)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"


_PAPER_RECIPE = Recipe()
_ALWAYS_SHOWN = ("optimizer", "steps", "batch_size", "lr", "weight_decay", "init")
"""The fields a recipe is always described by; every other field is named only where it is not the paper's."""


def _exact(x: float) -> str:
    """A recipe's number in full: fmt_num's 4 digits would show an lr of 0.0010001 as the paper's 0.001."""
    short = f"{x:g}"
    return short if float(short) == x else repr(x)


def _recipe_terms(recipe: Recipe) -> dict[str, tuple[str, bool]]:
    """Each field of ``recipe`` in words, in the order the report lists them, with whether it is used: betas and
    eps only by AdamW and Adam, momentum only by SGD (and then worded with it). Every field of :class:`Recipe`
    needs a term here (tests/test_report.py checks it), or a run's setting would go undescribed. A field used only
    with another's value says, instead of True, what ignores it (the lr floor: 'a constant schedule')."""
    opt = OPTIMIZERS.label(recipe.optimizer)
    adam, sgd = recipe.optimizer in ("adamw", "adam"), recipe.optimizer == "sgd"
    terms = {
        "optimizer": (f"SGD (momentum {_exact(recipe.momentum)})" if sgd else opt, True),
        "steps": (f"{recipe.steps} steps", True),
        "batch_size": (f"batch {recipe.batch_size}", True),
        "lr": (f"lr {_exact(recipe.lr)}", True),
        "weight_decay": (f"weight decay {_exact(recipe.weight_decay)}", True),
        "init": (f"init {recipe.init}", True),
        "betas": (f"betas ({', '.join(_exact(b) for b in recipe.betas)})", adam),
        "eps": (f"eps {_exact(recipe.eps)}", adam),
        # SGD's momentum is in the optimizer's term; any other optimizer ignores it
        "momentum": (f"momentum {_exact(recipe.momentum)}", False),
        "log_every": (f"loss logged every {recipe.log_every} steps", True),
        "eval_batches": (f"final loss on {recipe.eval_batches} fresh batches", True),
        # the fields of the beyond suite's recipes (BEYOND.md SCALE, ALT): the paper's values are constant lr, no
        # warm-up, no gamma and the importance-weighted MSE
        "schedule": ("constant lr" if recipe.schedule == "constant" else f"{recipe.schedule} lr schedule", True),
        "warmup_steps": (f"{recipe.warmup_steps} warm-up steps", True),
        "lr_floor": (f"lr floor {_exact(recipe.lr_floor)} x lr",
                     True if recipe.schedule == "cosine" else "a constant schedule"),
        "gamma": ("no gamma" if recipe.gamma is None else f"gamma {_exact(recipe.gamma)} on W", True),
        "loss": (f"loss {LOSSES.label(recipe.loss)}", True),
        "loss_penalty": (f"penalty {_exact(recipe.loss_penalty)} on the largest other output",
                         True if recipe.loss == "target-only" else f"loss {LOSSES.label(recipe.loss)}"),
    }
    if sgd:
        del terms["momentum"]
    return terms


def recipe_text(recipe: Recipe) -> str:
    """The recipe a run trained with, in words: the paper recipe named as such, or every field that differs from
    it followed by what the paper recipe has instead. A field the optimizer ignores (AdamW's momentum, SGD's
    betas) is named as ignored and is no difference."""
    terms, paper = _recipe_terms(recipe), _recipe_terms(_PAPER_RECIPE)
    opt = OPTIMIZERS.label(recipe.optimizer)
    shown: list[str] = []
    instead: list[str] = []  # the paper recipe's words for each field that differs
    for name, (text, used) in terms.items():
        differs = text != paper[name][0]
        if name in _ALWAYS_SHOWN or differs:
            shown.append(text if used is True else f"{used or opt} ignores {text}")
        if differs and used is True and paper[name][1] is True:  # not what the paper recipe ignores
            instead.append(paper[name][0])
    if not instead:
        return f"the paper recipe ({', '.join(shown)})"
    listed = instead[0] if len(instead) == 1 else f"{', '.join(instead[:-1])} and {instead[-1]}"
    return f"{', '.join(shown)}; the paper recipe has {listed}"


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-12)


def describe_values(values: Sequence[float], max_listed: int = 7) -> str:
    """A list of setting values in words: listed when few, else count, range and spacing."""
    vals: list[float] = []
    for v in values:
        if not any(_close(v, u) for u in vals):
            vals.append(float(v))
    if len(vals) <= max_listed:
        return ", ".join(fmt_num(v) for v in vals)
    lo, hi = min(vals), max(vals)
    s = sorted(vals)
    spacing = ""
    if lo > 0 and all(_close(math.log(s[k + 1] / s[k]), math.log(s[1] / s[0])) for k in range(len(s) - 1)):
        spacing = ", log-spaced"
    elif all(_close(s[k + 1] - s[k], s[1] - s[0]) for k in range(len(s) - 1)):
        spacing = ", evenly spaced"
    return f"{len(vals)} values from {fmt_num(lo)} to {fmt_num(hi)}{spacing}"


def _describe_importance_row(row: Sequence[float]) -> str:
    if all(_close(v, row[0]) for v in row):
        return f"I = {fmt_num(row[0])} for every feature"
    if len(row) >= 3 and row[0] > 0 and _close(row[0], 1.0):
        ratio = row[1] / row[0]
        if all(_close(v, ratio**i) for i, v in enumerate(row)):
            return f"I_i = {fmt_num(ratio)}^i"
    return "I = (" + ", ".join(fmt_num(v) for v in row) + ")"


def describe_importance(importance: Sequence[Sequence[float]]) -> str:
    rows = [tuple(r) for r in importance]
    if all(all(_close(a, b) for a, b in zip(r, rows[0])) for r in rows):
        return _describe_importance_row(rows[0])
    parts = []
    for i in range(len(rows[0])):
        col = [r[i] for r in rows]
        if all(_close(v, col[0]) for v in col):
            parts.append(f"I_{i} = {fmt_num(col[0])}")
        else:
            parts.append(f"I_{i}: {describe_values(col, max_listed=4)} across settings")
    return "; ".join(parts)


def describe_density(density: Sequence[Sequence[float]]) -> str:
    rows = [tuple(r) for r in density]
    if all(all(_close(v, r[0]) for v in r) for r in rows):
        return describe_values([r[0] for r in rows])
    return "per-feature densities differ within a setting (" + str(len(rows)) + " settings)"


# -- reading ---------------------------------------------------------------------------------------------


def _read_json(path: Path, problems: list[str]) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        problems.append(f"{path.name} is not valid JSON ({e.__class__.__name__}); ignored")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path.name} is not a JSON object; ignored")
        return {}
    return data


def _claims(doc: dict[str, Any], problems: list[str]) -> list[ClaimResult]:
    out = []
    for entry in doc.get("claims", []) if isinstance(doc.get("claims"), list) else []:
        try:
            out.append(ClaimResult.from_dict(entry))
        except ValueError as e:
            problems.append(f"{CLAIMS_FILE}: {e}; ignored")
    return out


@dataclass(frozen=True)
class Declared:
    """An experiment's declaration as the results folder recorded it (``reproduce.json``): the report reads this
    data, never the section's code, so a results folder stays data."""

    name: str
    title: str
    section: str
    summary: str
    notes: tuple[str, ...] = ()
    suite: str = "paper"
    claims: tuple[tuple[str, str, str], ...] = ()
    """(id, statement, threshold) of every claim it declares."""

    @classmethod
    def of(cls, exp: Any) -> "Declared":
        """From an :class:`~tms.experiment.Experiment` (duck-typed: the report does not import the declarations)."""
        return cls(exp.name, exp.title, exp.section, exp.summary, tuple(exp.notes), getattr(exp, "suite", "paper"),
                   tuple((c.id, c.statement, c.threshold_text) for c in exp.claims))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Declared":
        claims = tuple((str(c.get("id", "")), str(c.get("statement", "")), str(c.get("threshold", "")))
                       for c in d.get("claims", []) if isinstance(c, dict))
        return cls(str(d["name"]), str(d.get("title") or d["name"]), str(d.get("section") or d.get("suite") or ""),
                   str(d.get("summary", "")), tuple(str(n) for n in d.get("notes", [])), str(d.get("suite", "paper")),
                   claims)


def declared_experiments(state_doc: dict[str, Any], problems: list[str]) -> list[Declared]:
    """The experiments ``reproduce.json`` declares: its catalog (the experiments of the suites the last reproduce
    ran, in registry order), then any other experiment run into this folder before. An experiment that ran is
    described by the declaration recorded when it ran, the code that made its results."""
    out: dict[str, Declared] = {}
    entries = state_doc.get("experiments") if isinstance(state_doc.get("experiments"), dict) else {}
    ran = {name: e["declaration"] for name, e in entries.items()
           if isinstance(e, dict) and isinstance(e.get("declaration"), dict)}
    docs = [d for d in state_doc.get("catalog", []) if isinstance(d, dict)] + list(ran.values())
    for d in docs:
        try:
            name = str(d["name"])
            if name not in out:
                out[name] = Declared.from_dict(ran.get(name, d))
        except (KeyError, TypeError, AttributeError):
            problems.append(f"{STATE_FILE}: an experiment declaration without a name; ignored")
    for name, entry in entries.items():  # written by an older tms: no declaration, so the name stands for it
        if name not in out:
            out[name] = Declared(name, name, "", "")
    return list(out.values())


def _run_setup(out: Path, path: Path, meta: dict[str, Any], config: RunConfig) -> RunSetup:
    run = meta.get("run", {}) if isinstance(meta.get("run"), dict) else {}
    seconds = run.get("seconds")
    return RunSetup(
        rel=path.relative_to(out).as_posix() if path != out else ".",
        model=config.model,
        n_features=config.n_features,
        n_hidden=config.n_hidden,
        importance=describe_importance(config.importance),
        density=describe_density(config.density),
        n_settings=config.n_settings,
        restarts=config.restarts,
        n_instances=config.n_instances,
        seed=config.seed,
        recipe=config.recipe,
        seconds=float(seconds) if isinstance(seconds, (int, float)) else None,
        engine=str(run.get("engine", "?")),
        device=str(run.get("device", "?")),
        torch_threads=run.get("torch_threads"),
        cpu_count=run.get("cpu_count"),
        created=str(meta.get("created", "")),
        tms_version=str(meta.get("tms_version", "?")),
        torch_version=str(meta.get("torch_version", "?")),
    )


def phase_diagrams(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """phase.csv's rows as one diagram per model type, in the form the page's script draws."""
    by_model: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_model.setdefault(row["model"], []).append({
            "r": row["relative_importance"], "p": row["density"], "label": row["label"],
            "theory": row["theory_label"], "norm": _finite(row["extra_norm"]), "sup": _finite(row["extra_superposition"]),
            "loss": _finite(row["loss"]), "theory_loss": _finite(row["theory_loss"]), "near": row["near_boundary"],
            "counts": {k: row[f"n_{k}"] for k in ("not_represented", "dedicated", "superposition")},
        })
    return [{"model": model, "label": MODELS.label(model), "r_values": sorted({c["r"] for c in cells}),
             "p_values": sorted({c["p"] for c in cells}), "cells": cells} for model, cells in by_model.items()]


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def _figures(out: Path, exp_dir: Path, listed: list[str] | None) -> list[FigureRef]:
    if listed is not None:
        paths = [out / p for p in listed]
    else:
        paths = sorted(p for p in (exp_dir / FIGURES_DIR).rglob("*") if p.suffix.lower() in (".png", ".svg")
                       and not any(part.startswith(".") for part in p.relative_to(out).parts))
    refs: dict[str, FigureRef] = {}
    for p in paths:
        if not p.is_file() or p.suffix.lower() not in (".png", ".svg"):
            continue
        rel = p.relative_to(out).as_posix()
        ref = refs.setdefault(rel[: -len(p.suffix)], FigureRef(stem=p.stem))
        if p.suffix.lower() == ".png":
            ref.png = rel
        else:
            ref.svg = rel
    return list(refs.values())


def _tables(out: Path, exp_dir: Path) -> list[TableRef]:
    """The CSV tables the analysis wrote (``tables/``)."""
    out_tables = []
    for path in sorted((exp_dir / TABLES_DIR).glob("*.csv")):
        try:
            with open(path, encoding="utf-8", newline="") as f:
                rows = list(csv.reader(f))
        except (OSError, UnicodeDecodeError, csv.Error):
            continue
        if not rows:
            continue
        header, body = rows[0], rows[1:]
        small = len(body) <= TABLE_MAX_ROWS and len(header) <= TABLE_MAX_COLUMNS
        out_tables.append(TableRef(rel=path.relative_to(out).as_posix(), header=header, rows=body if small else [],
                                   n_rows=len(body)))
    return out_tables


def _collect_experiment(out: Path, exp: Declared, state: dict[str, Any], claims: list[ClaimResult]) -> ExperimentData:
    exp_dir = out / exp.name
    entry = state.get(exp.name) if isinstance(state.get(exp.name), dict) else None
    data = ExperimentData(name=exp.name, title=exp.title, section=exp.section, summary=exp.summary,
                          notes=list(exp.notes), status="not run", suite=exp.suite)
    data.claims = [c for c in claims if c.experiment == exp.name]
    checked = {c.id for c in data.claims}
    data.unchecked = [c for c in exp.claims if c[0] not in checked]
    if not exp_dir.is_dir():
        return data
    run_paths = list(iter_runs(exp_dir))
    if entry is not None:
        data.status = "finished"
        data.quick = bool(entry.get("quick", False))
        data.finished = str(entry.get("finished", ""))
        data.train_seconds = entry.get("train_seconds")
        data.wall_seconds = entry.get("wall_seconds")
    elif run_paths or data.claims:
        data.status = "partial"
    else:
        return data
    _collect_runs(out, run_paths, data, recorded=entry is not None)
    _collect_views(out, exp, Tables(exp_dir), data)
    listed = entry.get("figures") if entry is not None and isinstance(entry.get("figures"), list) else None
    data.figures = _figures(out, exp_dir, listed)
    data.tables = _tables(out, exp_dir)
    return data


def _collect_runs(out: Path, run_paths: list[Path], data: ExperimentData, recorded: bool) -> None:
    """Each run folder's setup (a corrupt one is a problem shown in the page), and the training time they hold."""
    for path in run_paths:
        rel = path.relative_to(out).as_posix()
        try:
            meta = read_meta(path)
            config = check_run(path)
        except RunFolderError as e:
            data.problems.append(f"{rel}: {e}")
            continue
        extra = meta.get("extra") if isinstance(meta.get("extra"), dict) else {}
        if not recorded and extra.get("quick"):
            data.quick = True
        data.runs.append(_run_setup(out, path, meta, config))
    run_seconds = [r.seconds for r in data.runs if r.seconds is not None]
    if run_seconds:  # the run folders record what training cost, however many reproduces it took
        data.train_seconds = sum(run_seconds)


def _collect_views(out: Path, exp: Declared, tables: Tables, data: ExperimentData) -> None:
    """The interactive views the analysis wrote: the WᵀW explorer, phase diagrams and hover scatters."""
    slug = _slug(exp.name)
    if (tables.tables_dir / "explorer.json").is_file():
        try:
            for k, group in enumerate(read_explorer(tables)):
                runs = [dict(r, run=f"{exp.name}/{r['run']}" if r["run"] else exp.name, label=MODELS.label(r["model"]))
                        for r in group["runs"]]
                data.explorers.append({"id": f"{slug}-x{k}", "densities": group["densities"], "runs": runs})
        except RunFolderError as e:
            data.problems.append(str(e))
    if tables.has(PHASE):
        try:
            for d, diagram in enumerate(phase_diagrams(tables.read(PHASE))):
                diagram["id"] = f"{slug}-p0-{d}"
                diagram["source"] = (tables.tables_dir / PHASE.file).relative_to(out).as_posix()
                data.phases.append(diagram)
        except RunFolderError as e:
            data.problems.append(str(e))
    for k, path in enumerate(sorted(tables.tables_dir.glob(SCATTER_PATTERN))):
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(spec, dict) or not isinstance(spec.get("points"), list):
                raise ValueError
        except (OSError, UnicodeDecodeError, ValueError):
            data.problems.append(f"{path.relative_to(out).as_posix()} is not a scatter table")
            continue
        data.scatters.append(dict(spec, id=f"{slug}-s{k}", source=path.relative_to(out).as_posix()))


def collect(out: Path | str, experiments: Sequence[Any] | None = None) -> ReportData:
    """Everything the report shows, read from the results folder ``out`` (the experiments its ``reproduce.json``
    declares, or the given :class:`~tms.experiment.Experiment` declarations)."""
    out = Path(out)
    problems: list[str] = []
    state_doc = _read_json(out / STATE_FILE, problems)
    if experiments is None:
        experiments = declared_experiments(state_doc, problems)
    else:
        experiments = [e if isinstance(e, Declared) else Declared.of(e) for e in experiments]
    claims = _claims(_read_json(out / CLAIMS_FILE, problems), problems)
    state = state_doc.get("experiments", {}) if isinstance(state_doc.get("experiments"), dict) else {}
    exps = [_collect_experiment(out, exp, state, claims) for exp in experiments]
    known = {e.name for e in exps}
    other = [c for c in claims if c.experiment not in known]
    env = state_doc.get("environment") if isinstance(state_doc.get("environment"), dict) else {}
    devices = sorted({r.device for e in exps for r in e.runs})
    engines = sorted({r.engine for e in exps for r in e.runs})
    last_wall = state_doc.get("last_wall_seconds")
    robustness: list[dict[str, Any]] = []
    rob_path = out / ROBUSTNESS_DIR / ROBUSTNESS_CSV
    if rob_path.is_file():
        try:
            robustness = read_robustness(rob_path)
        except RunFolderError as e:
            problems.append(str(e))
    heatmap = None
    png, svg = (out / ROBUSTNESS_DIR / f"{ROBUSTNESS_HEATMAP}.{ext}" for ext in ("png", "svg"))
    if robustness and png.is_file():
        heatmap = FigureRef(stem=ROBUSTNESS_HEATMAP, png=png.relative_to(out).as_posix(),
                            svg=svg.relative_to(out).as_posix() if svg.is_file() else None)
    return ReportData(
        out=out,
        generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        tms_version=__version__,
        environment=env or _fallback_environment(exps),
        last_wall_seconds=float(last_wall) if isinstance(last_wall, (int, float)) else None,
        experiments=exps,
        other_claims=other,
        problems=problems,
        devices=devices,
        engines=engines,
        robustness=robustness,
        robustness_heatmap=heatmap,
    )


def _fallback_environment(exps: list[ExperimentData]) -> dict[str, Any]:
    """Without reproduce.json (runs trained one by one), what the run folders recorded."""
    runs = [r for e in exps for r in e.runs]
    if not runs:
        return {}
    r = runs[-1]
    return {"tms_version": r.tms_version, "torch_version": r.torch_version, "cpu_count": r.cpu_count,
            "torch_threads": r.torch_threads}
