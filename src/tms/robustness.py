"""``tms robustness``: the same claims under other recipes and seeds (PAPER.md §0: "say how robust they are
to the recipe").

Each *variant* changes some recipe fields or the seed of every run of the chosen experiments and is reproduced
into a results folder of its own (``OUT/<variant>/``, resumable like ``tms reproduce``); the claims of all
variants are gathered into ``OUT/robustness.csv`` (one row per variant and claim) and ``OUT/ROBUSTNESS.md`` (a
claims × variants table of measured values and verdicts).
"""

from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable

from .config import Recipe
from .errors import ConfigError, RunFolderError, TMSError
from .runs import atomic_write_text

log = logging.getLogger(__name__)

#: Variant keys and the Recipe field each sets ('seed' sets the config's seed).
KEYS = {"lr": "lr", "batch": "batch_size", "steps": "steps", "wd": "weight_decay", "init": "init", "seed": "seed"}
PAPER = "paper"
DEFAULT_EXPERIMENTS = ("intro", "section2")
DEFAULT_VARIANTS = (PAPER, "lr=0.0003", "lr=0.003", "batch=256", "init=per_model", "seed=1", "seed=2")
CSV_FILE = "robustness.csv"
MD_FILE = "ROBUSTNESS.md"
#: Where ``tms robustness`` writes by default, and where ``tms report`` looks for it: inside the results folder.
DEFAULT_DIR = Path("results") / "robustness"
COLUMNS = ["variant", "experiment", "claim", "measured", "threshold", "passed", "note"]


@dataclass(frozen=True)
class Variant:
    """A named change to every run: recipe fields and/or the seed."""

    name: str
    recipe: tuple[tuple[str, Any], ...] = ()
    seed: int | None = None

    @property
    def recipe_changes(self) -> dict[str, Any]:
        return dict(self.recipe)


def _value(key: str, text: str) -> Any:
    field = KEYS[key]
    if field == "init":
        return text
    kind = int if field in ("batch_size", "steps", "seed") else float
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"variant {key} must be {'an integer' if kind is int else 'a number'}, got {text!r}") from None


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def parse_variant(spec: str) -> Variant:
    """``'paper'`` or ``'key=value[,key=value...]'`` with keys lr, batch, steps, wd, init, seed."""
    spec = spec.strip()
    if spec == PAPER:
        return Variant(PAPER)
    changes: dict[str, Any] = {}
    seed = None
    shown = []
    for part in spec.split(","):
        key, sep, text = part.partition("=")
        key = key.strip()
        if not sep or key not in KEYS:
            raise ConfigError(
                f"variant must be '{PAPER}' or key=value pairs joined by ',' with keys {', '.join(KEYS)}, got {spec!r}"
            )
        value = _value(key, text.strip())
        shown.append(f"{key}={_show(value)}")
        if key == "seed":
            if value < 0:
                raise ConfigError(f"variant seed must be an integer >= 0, got {value}")
            seed = value
        else:
            changes[KEYS[key]] = value
    Recipe(**changes)  # validates the values (one-line ConfigError naming the field)
    name = ",".join(shown)
    return Variant(name, tuple(sorted(changes.items())), seed)


def run_robustness(
    names: list[str] | None = None,
    out: Path | str = "robustness",
    variants: list[str] | None = None,
    *,
    quick: bool = False,
    device: str = "auto",
    engine: str = "auto",
    progress: bool = False,
    on_variant: Callable[[Variant, float], None] | None = None,
) -> list[dict[str, Any]]:
    """Reproduce ``names`` (default: intro and section2) under each variant; returns the rows of the CSV."""
    from .experiments import get_experiments
    from .reproduce import reproduce

    names = list(names or DEFAULT_EXPERIMENTS)
    experiments = get_experiments(names)  # unknown names fail before any work
    parsed = [parse_variant(v) for v in (variants or DEFAULT_VARIANTS)]
    if len({v.name for v in parsed}) != len(parsed):
        raise ConfigError("variants must be different from each other")
    out = Path(out)
    rows: list[dict[str, Any]] = []
    seconds: dict[str, float] = {}
    for v in parsed:
        t0 = time.perf_counter()
        try:
            claims = reproduce(names, out / v.name, quick=quick, device=device, engine=engine, progress=progress,
                               report=False, seed=v.seed, recipe=v.recipe_changes or None)
            note = ""
        except ConfigError:
            raise
        except TMSError as e:  # e.g. training diverged under this recipe: every claim of the variant fails
            log.warning("variant %s: %s", v.name, e)
            note = str(e)
            claims = [{"experiment": exp.name, "id": c.id, "measured": None, "threshold": c.threshold_text,
                       "passed": False} for exp in experiments for c in exp.claims]
        seconds[v.name] = time.perf_counter() - t0
        for c in claims:
            if c.get("experiment") in names:
                rows.append({"variant": v.name, "experiment": c["experiment"], "claim": c["id"],
                             "measured": c.get("measured"), "threshold": c["threshold"], "passed": bool(c["passed"]),
                             "note": note})
        if on_variant is not None:
            on_variant(v, seconds[v.name])
    atomic_write_text(out / CSV_FILE, _csv(rows))
    atomic_write_text(out / MD_FILE, _markdown(rows, parsed, names, quick))
    return rows


def read_table(path: Path | str) -> list[dict[str, Any]]:
    """The rows of a ``robustness.csv`` as :func:`run_robustness` returned them; a file that is not one raises
    :class:`RunFolderError` naming what is wrong."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or not set(COLUMNS) <= set(reader.fieldnames):
                raise RunFolderError(f"{path} is not a robustness table: it needs the columns {', '.join(COLUMNS)}")
            rows = []
            for k, r in enumerate(reader, start=2):
                try:
                    measured = float(r["measured"]) if r["measured"] not in ("", None) else None
                    passed = {"1": True, "0": False}[r["passed"]]
                except (ValueError, KeyError):
                    raise RunFolderError(f"{path} line {k}: measured must be a number and passed 0 or 1") from None
                rows.append({"variant": r["variant"], "experiment": r["experiment"], "claim": r["claim"],
                             "measured": measured, "threshold": r["threshold"], "passed": passed,
                             "note": r["note"] or ""})
            return rows
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise RunFolderError(f"cannot read {path}: {e}") from None


@dataclass(frozen=True)
class Matrix:
    """Claims (rows) x variants (columns) of a robustness table."""

    variants: list[str]
    claims: list[tuple[str, str]]
    """(experiment, claim id) in first-seen order."""
    cells: dict[tuple[str, str, str], dict[str, Any]]
    """(variant, experiment, claim) -> row."""
    errors: dict[str, str]
    """variant -> why it measured nothing (training diverged, ...)."""

    @classmethod
    def of(cls, rows: list[dict[str, Any]]) -> "Matrix":
        variants: list[str] = []
        claims: list[tuple[str, str]] = []
        for r in rows:
            if r["variant"] not in variants:
                variants.append(r["variant"])
            if (r["experiment"], r["claim"]) not in claims:
                claims.append((r["experiment"], r["claim"]))
        return cls(variants, claims, {(r["variant"], r["experiment"], r["claim"]): r for r in rows},
                   {r["variant"]: r["note"] for r in rows if r.get("note")})

    def rows(self) -> list[tuple[str, str, list[dict[str, Any] | None]]]:
        """(experiment, claim id, that claim's row under each variant or None) for every claim."""
        return [(exp, cid, [self.cells.get((v, exp, cid)) for v in self.variants]) for exp, cid in self.claims]

    def passed(self, variant: str) -> tuple[int, int]:
        mine = [r for (v, _, _), r in self.cells.items() if v == variant]
        return sum(r["passed"] for r in mine), len(mine)


def _csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "measured": "" if r["measured"] is None else f"{r['measured']:.6g}",
                    "passed": int(r["passed"])})
    return buf.getvalue()


def _markdown(rows: list[dict[str, Any]], variants: list[Variant], names: list[str], quick: bool) -> str:
    recipe = Recipe()
    defaults = ", ".join(f"{f.name} {getattr(recipe, f.name)}" for f in fields(Recipe)
                         if f.name in ("lr", "batch_size", "steps", "weight_decay", "init"))
    lines = [
        "# Robustness of the claims to the recipe",
        "",
        f"Experiments: {', '.join(names)}{' (quick runs: a smoke test, not the claims)' if quick else ''}. "
        f"Each column reproduces them with the change it names on top of each experiment's own recipe "
        f"(the paper recipe: {defaults}; seed 0); each cell is the claim's measured value and verdict.",
        "",
        markdown_table(Matrix.of(rows)),
        "",
    ]
    return "\n".join(lines)


def markdown_table(mx: Matrix) -> str:
    """The claims x variants table as Markdown, with a row of pass counts and a line per variant that
    measured nothing."""
    lines = ["| claim | " + " | ".join(mx.variants) + " |", "|---|" + "---:|" * len(mx.variants)]
    for exp, cid, row in mx.rows():
        cells = ["–" if r is None else
                 f"{'n/a' if r['measured'] is None else format(r['measured'], '.3g')} {'PASS' if r['passed'] else '**FAIL**'}"
                 for r in row]
        lines.append(f"| {cid} ({exp}) | " + " | ".join(cells) + " |")
    lines.append("| passed | " + " | ".join("{}/{}".format(*mx.passed(v)) for v in mx.variants) + " |")
    if mx.errors:
        lines.append("")
        lines += [f"- {name}: no claims measured: {note}" for name, note in mx.errors.items()]
    return "\n".join(lines)
