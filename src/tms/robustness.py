"""``tms robustness``: the same claims under other recipes and seeds (PAPER.md §0: "say how robust they are
to the recipe").

Each *variant* is an :class:`~tms.config.Overrides` (recipe fields and/or the base seed) of every run of the
chosen experiments, reproduced into a results folder of its own (``OUT/<variant>/``, resumable like
``tms reproduce``); the claims of all variants are gathered into ``OUT/robustness.csv`` (one row per variant and
claim) and ``OUT/ROBUSTNESS.md`` (a claims × variants table of measured values and verdicts).
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable

from .claims.base import ClaimResult
from .claims.matrix import TABLE, Matrix, markdown_table
from .config import Overrides, Recipe
from .errors import ConfigError, TMSError
from .files import atomic_write_text
from .layout import DEFAULT_RESULTS, ROBUSTNESS_DIR, ROBUSTNESS_HEATMAP, ROBUSTNESS_MD
from .runtime import Runtime, as_runtime

log = logging.getLogger(__name__)

#: Variant keys and the Recipe field each sets ('seed' sets the base seed).
KEYS = {"lr": "lr", "lrx": "lr_scale", "batch": "batch_size", "steps": "steps", "wd": "weight_decay", "init": "init",
        "optimizer": "optimizer", "momentum": "momentum", "seed": "seed"}
"""('lrx' multiplies each experiment's own learning rate; 'seed' sets the base seed.)"""
PAPER = "paper"
DEFAULT_EXPERIMENTS = ("intro", "section2")
DEFAULT_VARIANTS = (PAPER, "lr=0.0003", "lr=0.003", "batch=256", "init=per_model", "seed=1", "seed=2")
#: The heat-map of passing shares (``OUT/robustness_heatmap.png`` and ``.svg``), drawn when two axes are chosen.
HEATMAP = ROBUSTNESS_HEATMAP
#: Where ``tms robustness`` writes by default, and where the report looks for it: inside the results folder.
DEFAULT_DIR = Path(DEFAULT_RESULTS) / ROBUSTNESS_DIR


@dataclass(frozen=True)
class Variant:
    """A named change to every run."""

    name: str
    overrides: Overrides


def _value(key: str, text: str) -> Any:
    field = KEYS[key]
    if field in ("init", "optimizer"):
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
        return Variant(PAPER, Overrides())
    changes: dict[str, Any] = {}
    seed = scale = None
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
        elif key == "lrx":
            scale = value
        else:
            changes[KEYS[key]] = value
    return Variant(",".join(shown), Overrides(seed=seed, recipe=tuple(changes.items()), lr_scale=scale))


def parse_grid(axes: list[str]) -> list[str]:
    """The variants of a grid: ``['lr=3e-4,1e-3', 'optimizer=adamw,sgd', 'seed=0,1,2']`` is the product of its
    axes (the first axis varies slowest), each variant a spec for :func:`parse_variant`."""
    values: list[list[str]] = []
    seen = set()
    for axis in axes:
        key, sep, text = axis.partition("=")
        key = key.strip()
        if not sep or key not in KEYS or not text.strip():
            raise ConfigError(f"grid: each axis must be key=value,value,... with a key among {', '.join(KEYS)}, "
                              f"got {axis!r}")
        if key in seen:
            raise ConfigError(f"grid: axis {key} is given twice")
        seen.add(key)
        choices = [f"{key}={_show(_value(key, t.strip()))}" for t in text.split(",") if t.strip()]
        if len(set(choices)) != len(choices):
            raise ConfigError(f"grid: axis {key} repeats a value")
        values.append(choices)
    return [",".join(combo) for combo in itertools.product(*values)]


def axes_of(variant: str) -> dict[str, str]:
    """``{'lr': '0.001', 'seed': '1'}`` from a variant name; {} for the paper recipe."""
    if variant == PAPER:
        return {}
    return dict(part.split("=", 1) for part in variant.split(","))


def run_robustness(
    names: list[str] | None = None,
    out: Path | str = DEFAULT_DIR,
    variants: list[str] | None = None,
    *,
    quick: bool = False,
    on_variant: Callable[[Variant, float], None] | None = None,
    heatmap: tuple[str, str] | None = None,
    runtime: Runtime | None = None,
    **how: Any,
) -> list[dict[str, Any]]:
    """Reproduce ``names`` (default: intro and section2) under each variant; returns the rows of the CSV.

    Every variant's run folders are trained first, all variants at once, over the runtime's executor
    (:class:`~tms.runtime.Runtime`: the local one by default; a Ray cluster takes them side by side; its fields
    may be given as keywords instead, ``device='cpu'``); each variant is then analysed and checked here. A run
    that fails (say, training diverged under the variant's recipe) fails that variant's claims, and the sweep goes
    on. ``heatmap``: two variant keys (say ``('lr', 'optimizer')``) for the heat-map of the share of passing
    variants per claim. ``on_variant(variant, seconds)`` is called as each variant is done."""
    from .pipeline import train_tasks
    from .reproduce import finish, plan

    runtime = as_runtime(runtime, **how)
    names = list(names or DEFAULT_EXPERIMENTS)
    parsed = _variants(names, variants, heatmap)
    out = Path(out)
    plans = [plan(names, out / v.name, quick=quick, overrides=v.overrides, runtime=runtime) for v in parsed]
    results = train_tasks([t for p in plans for t in p.tasks], runtime)
    rows: list[dict[str, Any]] = []
    wanted = plans[0].registry.named(names)  # not the experiments only read for their runs (uses)
    for v, planned in zip(parsed, plans):
        mine, results = results[:len(planned.tasks)], results[len(planned.tasks):]
        start = time.perf_counter() - sum(r["wall_seconds"] for r in mine)
        try:
            claims = finish(planned, mine, runtime, report=False, start=start)
            note = ""
        except ConfigError:
            raise
        except TMSError as e:  # e.g. training diverged under this recipe: every claim of the variant fails
            log.warning("variant %s: %s", v.name, e)
            note = str(e)
            claims = [ClaimResult(id=c.id, experiment=exp.name, statement=c.statement, measure=c.measure,
                                  measured=math.nan, threshold=c.threshold_text, passed=False)
                      for exp in planned.experiments for c in exp.claims]
        rows += [{"variant": v.name, "experiment": c.experiment, "claim": c.id,
                  "measured": c.measured if math.isfinite(c.measured) else None,
                  "threshold": c.threshold, "passed": c.passed, "note": note} for c in claims if c.experiment in wanted]
        if on_variant is not None:
            on_variant(v, time.perf_counter() - start)
    _write(out, rows, names, quick, heatmap)
    return rows


def _variants(names: list[str], variants: list[str] | None, heatmap: tuple[str, str] | None) -> list[Variant]:
    """The variants asked for, parsed; ConfigError for an unknown experiment, a bad or repeated variant or a bad
    heat-map axis, before any work."""
    from .registry import get_experiments

    get_experiments(names)  # unknown names fail before any work
    parsed = [parse_variant(v) for v in (variants or DEFAULT_VARIANTS)]
    if len({v.name for v in parsed}) != len(parsed):
        raise ConfigError("variants must be different from each other")
    if heatmap is not None:
        for key in heatmap:
            if key not in KEYS:
                raise ConfigError(f"heatmap: axes must be two of {', '.join(KEYS)}, got {key!r}")
    return parsed


def _write(out: Path, rows: list[dict[str, Any]], names: list[str], quick: bool,
           heatmap: tuple[str, str] | None) -> None:
    """robustness.csv, ROBUSTNESS.md and, with two axes, the heat-map."""
    TABLE.write(out, rows)
    atomic_write_text(out / ROBUSTNESS_MD, _markdown(rows, names, quick))
    if heatmap is not None:
        from .plotting.robustness import heatmaps
        from .plotting.save import save_figure

        fig = heatmaps(rows, *heatmap)
        if fig is not None:
            save_figure(fig, out, HEATMAP)


def _markdown(rows: list[dict[str, Any]], names: list[str], quick: bool) -> str:
    recipe = Recipe()
    defaults = ", ".join(f"{f.name} {getattr(recipe, f.name)}" for f in fields(Recipe)
                         if f.name in ("lr", "batch_size", "steps", "weight_decay", "init"))
    lines = [
        "# Robustness of the claims to the recipe",
        "",
        f"Experiments: {', '.join(names)}{' (quick runs: a smoke test, not the claims)' if quick else ''}. "
        f"Each variant reproduces them with the change it names on top of each experiment's own recipe "
        f"(the paper recipe: {defaults}; seed 0); each cell is the claim's measured value and verdict.",
        "",
        markdown_table(Matrix.of(rows)),
        "",
    ]
    return "\n".join(lines)
