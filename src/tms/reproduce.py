"""``tms reproduce``: train what is missing, analyse, draw, check the claims, write the report.

Resuming is built in: a run folder that is complete and was trained from the same config is not trained
again, so an interrupted reproduction picks up where it stopped. Run folders are written atomically
(:func:`tms.runs.save_run`), so an interruption leaves no half-written run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import torch

from . import __version__
from .claims import ClaimResult
from .experiments import Experiment, get_experiments
from .runs import atomic_write_json, is_complete_run, save_run
from .train import train

log = logging.getLogger(__name__)

CLAIMS_FILE = "claims.json"
STATE_FILE = "reproduce.json"


def environment() -> dict[str, Any]:
    return {
        "tms_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def train_experiment(
    exp: Experiment, exp_dir: Path, *, quick: bool, device: str, engine: str, progress: bool
) -> dict[str, float]:
    """Train every run of ``exp`` that is not already stored; returns seconds spent per run trained now."""
    spent: dict[str, float] = {}
    for sub, cfg in exp.runs(quick).items():
        run_dir = exp_dir / sub if sub else exp_dir
        if is_complete_run(run_dir, cfg):
            log.info("%s: %s already trained, skipping", exp.name, run_dir)
            continue
        result = train(cfg, device=device, engine=engine, progress=progress)
        save_run(run_dir, cfg, result, extra={"experiment": exp.name, "run": sub, "quick": quick})
        spent[sub] = result.seconds
    return spent


def check_experiment(exp: Experiment, exp_dir: Path) -> list[ClaimResult]:
    return [claim.check(exp_dir, experiment=exp.name) for claim in exp.claims]


def finish_experiment(exp: Experiment, exp_dir: Path) -> tuple[list[Path], list[ClaimResult]]:
    """Everything after training, from the stored runs only: derived tables, figures, claims."""
    if exp.analyze is not None:
        exp.analyze(exp_dir)
    figures = exp.figures(exp_dir)
    return figures, check_experiment(exp, exp_dir)


def load_claims(out: Path) -> list[dict[str, Any]]:
    path = out / CLAIMS_FILE
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return list(data.get("claims", []))
    except (json.JSONDecodeError, AttributeError, TypeError):
        return []


def write_claims(out: Path, results: list[ClaimResult], experiments: list[Experiment]) -> list[dict[str, Any]]:
    """Merge this run's results into ``claims.json`` (results of experiments not run now are kept)."""
    now = {e.name for e in experiments}
    kept = [c for c in load_claims(out) if c.get("experiment") not in now]
    merged = kept + [r.to_dict() for r in results]
    order = {name: k for k, name in enumerate(_registry_order())}
    merged.sort(key=lambda c: order.get(c.get("experiment"), len(order)))
    atomic_write_json(out / CLAIMS_FILE, {"claims": merged})
    return merged


def _registry_order() -> list[str]:
    from .experiments import all_experiments

    return list(all_experiments())


def with_overrides(exp: Experiment, seed: int | None = None, recipe: dict[str, Any] | None = None) -> Experiment:
    """``exp`` with every run's config seeded with ``seed`` and its recipe fields replaced by ``recipe``."""
    runs = exp.runs

    def changed(quick: bool):
        out = {}
        for sub, cfg in runs(quick).items():
            if recipe:
                cfg = dataclasses.replace(cfg, recipe=dataclasses.replace(cfg.recipe, **recipe))
            if seed is not None:
                cfg = dataclasses.replace(cfg, seed=seed)
            out[sub] = cfg
        return out

    return dataclasses.replace(exp, runs=changed)


def reproduce(
    names: list[str] | None = None,
    out: Path | str = "results",
    *,
    quick: bool = False,
    device: str = "auto",
    engine: str = "auto",
    progress: bool = False,
    report: bool = True,
    on_experiment: Callable[[Experiment, float], None] | None = None,
    replacements: list[Experiment] | None = None,
    seed: int | None = None,
    recipe: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Reproduce the named experiments (all by default) into ``out``; returns the merged claims.

    ``replacements`` stand in for the registry's experiments of the same name (e.g. a §3 diagram on
    another grid). ``seed`` replaces the seed of every run (each experiment's default is 0): the same claims
    on other random draws; ``recipe`` replaces recipe fields of every run (see :mod:`tms.robustness`)."""
    experiments = get_experiments(names)
    if replacements:
        by_name = {e.name: e for e in replacements}
        experiments = [by_name.get(e.name, e) for e in experiments]
    if seed is not None or recipe:
        experiments = [with_overrides(e, seed, recipe) for e in experiments]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / STATE_FILE
    state: dict[str, Any] = {}
    if state_path.is_file():
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            state = {}
    state.setdefault("experiments", {})
    results: list[ClaimResult] = []
    start = time.perf_counter()
    for exp in experiments:
        t0 = time.perf_counter()
        exp_dir = out / exp.name
        spent = train_experiment(exp, exp_dir, quick=quick, device=device, engine=engine, progress=progress)
        figures, claim_results = finish_experiment(exp, exp_dir)
        results += claim_results
        entry = state["experiments"].get(exp.name, {})
        entry.update({
            "quick": quick,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "figures": [str(p.relative_to(out)) for p in figures],
        })
        if spent:  # keep the training time of the run that actually trained it
            entry["train_seconds"] = round(sum(spent.values()), 2)
        entry["wall_seconds"] = round(time.perf_counter() - t0, 2)
        state["experiments"][exp.name] = entry
        atomic_write_json(state_path, state)
        if on_experiment is not None:
            on_experiment(exp, time.perf_counter() - t0)
    state["environment"] = environment()
    state["last_wall_seconds"] = round(time.perf_counter() - start, 2)
    atomic_write_json(state_path, state)
    merged = write_claims(out, results, experiments)
    if report:
        from .report import write_report

        write_report(out)
    return merged


def format_claims_table(claims: list[dict[str, Any]]) -> str:
    """A plain-text table of claims for the terminal."""
    rows = [("claim", "measured", "threshold", "verdict")]
    for c in claims:
        m = c.get("measured")
        rows.append((c["id"], "n/a" if m is None else f"{m:.4g}", c["threshold"], "PASS" if c["passed"] else "FAIL"))
    widths = [max(len(r[k]) for r in rows) for k in range(4)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    passed = sum(c["passed"] for c in claims)
    lines.append(f"{passed} of {len(claims)} claims passed")
    return "\n".join(lines)
