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
from .errors import ConfigError, TMSError
from .runs import atomic_write_text

log = logging.getLogger(__name__)

#: Variant keys and the Recipe field each sets ('seed' sets the config's seed).
KEYS = {"lr": "lr", "batch": "batch_size", "steps": "steps", "wd": "weight_decay", "init": "init", "seed": "seed"}
PAPER = "paper"
DEFAULT_EXPERIMENTS = ("intro", "section2")
DEFAULT_VARIANTS = (PAPER, "lr=0.0003", "lr=0.003", "batch=256", "init=per_model", "seed=1", "seed=2")
CSV_FILE = "robustness.csv"
MD_FILE = "ROBUSTNESS.md"


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
    for part in spec.split(","):
        key, sep, text = part.partition("=")
        key = key.strip()
        if not sep or key not in KEYS:
            raise ConfigError(
                f"variant must be '{PAPER}' or key=value pairs joined by ',' with keys {', '.join(KEYS)}, got {spec!r}"
            )
        value = _value(key, text.strip())
        if key == "seed":
            if value < 0:
                raise ConfigError(f"variant seed must be an integer >= 0, got {value}")
            seed = value
        else:
            changes[KEYS[key]] = value
    Recipe(**changes)  # validates the values (one-line ConfigError naming the field)
    name = ",".join(f"{k.strip()}={_show(_value(k.strip(), v.strip()))}"
                    for k, _, v in (p.partition("=") for p in spec.split(",")))
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


def _csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["variant", "experiment", "claim", "measured", "threshold", "passed", "note"],
                       lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "measured": "" if r["measured"] is None else f"{r['measured']:.6g}",
                    "passed": int(r["passed"])})
    return buf.getvalue()


def _markdown(rows: list[dict[str, Any]], variants: list[Variant], names: list[str], quick: bool) -> str:
    recipe = Recipe()
    defaults = ", ".join(f"{f.name} {getattr(recipe, f.name)}" for f in fields(Recipe)
                         if f.name in ("lr", "batch_size", "steps", "weight_decay", "init"))
    claims: list[tuple[str, str]] = []
    for r in rows:
        key = (r["experiment"], r["claim"])
        if key not in claims:
            claims.append(key)
    cell = {(r["variant"], r["experiment"], r["claim"]): r for r in rows}
    lines = [
        "# Robustness of the claims to the recipe",
        "",
        f"Experiments: {', '.join(names)}{' (quick runs: a smoke test, not the claims)' if quick else ''}. "
        f"Each column reproduces them with the change it names on top of each experiment's own recipe "
        f"(the paper recipe: {defaults}; seed 0); each cell is the claim's measured value and verdict.",
        "",
        "| claim | " + " | ".join(v.name for v in variants) + " |",
        "|---|" + "---:|" * len(variants),
    ]
    for exp, cid in claims:
        cells = []
        for v in variants:
            r = cell.get((v.name, exp, cid))
            if r is None:
                cells.append("–")
                continue
            m = "n/a" if r["measured"] is None else f"{r['measured']:.3g}"
            cells.append(f"{m} {'PASS' if r['passed'] else '**FAIL**'}")
        lines.append(f"| {cid} ({exp}) | " + " | ".join(cells) + " |")
    passed = {v.name: sum(r["passed"] for r in rows if r["variant"] == v.name) for v in variants}
    total = {v.name: sum(1 for r in rows if r["variant"] == v.name) for v in variants}
    lines.append("| passed | " + " | ".join(f"{passed[v.name]}/{total[v.name]}" for v in variants) + " |")
    errors = {r["variant"]: r["note"] for r in rows if r.get("note")}
    if errors:
        lines.append("")
        lines += [f"- {name}: no claims measured: {note}" for name, note in errors.items()]
    lines.append("")
    return "\n".join(lines)
