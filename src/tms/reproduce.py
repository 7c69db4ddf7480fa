"""``tms reproduce``: every experiment of a suite (or the named ones) through the pipeline, then claims.json and the
findings report.

Each experiment's declaration (title, heading, suite, summary, notes, parameters, origin) is written into
``reproduce.json`` beside its results, so that reading them (``tms report``) never imports a section's code.

Resuming is built in: a run folder that is complete and was trained from the same config is not trained
again (:mod:`tms.pipeline`), so an interrupted reproduction picks up where it stopped; every file is written
atomically, so an interruption leaves nothing half-written.
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

from ._version import __version__
from .claims.base import ClaimResult, read_claims, write_claims
from .config import Overrides
from .errors import ConfigError, RunFolderError, TMSError, TrainingError
from .executors import Executor, RunTask
from .experiment import Experiment
from .files import atomic_write_json
from .layout import CLAIMS_FILE, STATE_FILE
from .pipeline import run_experiment
from .registry import Registry, SectionError, discover, looks_like_path

log = logging.getLogger(__name__)


def environment(threads: int | None = None) -> dict[str, Any]:
    return {
        "tms_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": threads or torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def merge_claims(out: Path, results: list[ClaimResult], experiments: list[Experiment],
                 order: list[str] | None = None) -> list[ClaimResult]:
    """This run's results merged into ``claims.json`` (results of experiments not run now are kept), in
    registry order (``order``: experiment names; others after them)."""
    now = {e.name for e in experiments}
    try:
        kept = [c for c in read_claims(out / CLAIMS_FILE) if c.experiment not in now]
    except RunFolderError as e:
        log.warning("%s; it is replaced", e)
        kept = []
    order = {name: k for k, name in enumerate(order if order is not None else discover().experiments)}
    merged = sorted(kept + results, key=lambda c: order.get(c.experiment, len(order)))
    write_claims(out / CLAIMS_FILE, merged)
    return merged


def for_experiment(overrides: Overrides, exp: Experiment, experiments: list[Experiment]) -> Overrides:
    """``overrides`` with only the experiment parameters ``exp`` takes (ConfigError for a parameter that no
    chosen experiment takes)."""
    takes = exp.defaults()
    for key, _ in overrides.params:
        if not any(key in e.defaults() for e in experiments):
            owners = [e.name for e in discover().experiments.values() if key in e.defaults()]
            raise ConfigError(f"parameter {key!r} applies to the experiments {', '.join(owners) or 'none'}; none of "
                              "them is chosen")
    return dataclasses.replace(overrides, params=tuple((k, v) for k, v in overrides.params if k in takes))


def select(names: list[str] | None, suite: str | None = None) -> tuple[Registry, list[Experiment]]:
    """The registry (installed sections and those named by path) and the experiments ``names`` choose: names of
    experiments or sections, paths of outside sections, or a whole suite (the paper's by default)."""
    names = list(names or [])
    paths = [n for n in names if looks_like_path(n)]
    reg = discover(paths)
    chosen = [n for n in names if not looks_like_path(n)]
    for p in paths:
        where = str(Path(p).resolve())
        chosen += [e for e, o in reg.origins.items() if o.kind == "path" and o.where == where]
    return reg, reg.select(chosen or None, suite)


def run_tasks(names: list[str] | None, out: Path | str, *, quick: bool = False, overrides: Overrides | None = None,
              device: str = "auto", engine: str = "auto", suite: str | None = None) -> list[RunTask]:
    """Every run folder that reproducing ``names`` into ``out`` trains, as executor tasks (:mod:`tms.executors`),
    experiment by experiment in registry order; ConfigError for a bad override before any work."""
    from .train import snapshot_steps

    _, experiments = select(names, suite)
    overrides = overrides or Overrides()
    out = Path(out).resolve()
    tasks = []
    for exp in experiments:
        for sub, cfg in exp.run_configs(quick, for_experiment(overrides, exp, experiments)).items():
            snaps = snapshot_steps(exp.snapshots(sub, cfg), cfg.recipe.steps)
            path = out / exp.name / sub if sub else out / exp.name
            tasks.append(RunTask(path=str(path), config=cfg.to_dict(), experiment=exp.name, run=sub,
                                 snapshots=tuple(snaps) if snaps else None, quick=quick, device=device, engine=engine))
    return tasks


def train_tasks(executor: Executor, tasks: list[RunTask], progress: bool = False) -> list[dict[str, Any]]:
    """Train ``tasks`` with ``executor``, a progress bar over tasks when asked; the tasks' results in order."""
    from tqdm.auto import tqdm

    with tqdm(total=len(tasks), desc="run folders", unit="run", disable=not progress, leave=False) as bar:
        def done(res: dict[str, Any]) -> None:
            bar.update(1)
            if res["status"] == "failed":
                log.warning("%s: %s", res["label"], res["error"])

        return executor.map(tasks, on_done=done)


def _read_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        state = {}
    if not isinstance(state, dict) or not isinstance(state.get("experiments"), dict):
        state = {"experiments": {}}
    return state


def reproduce(
    names: list[str] | None = None,
    out: Path | str = "results",
    *,
    quick: bool = False,
    overrides: Overrides | None = None,
    device: str = "auto",
    engine: str = "auto",
    threads: int | None = None,
    progress: bool = False,
    report: bool = True,
    on_experiment: Callable[[Experiment, float], None] | None = None,
    executor: Executor | None = None,
    suite: str | None = None,
) -> list[ClaimResult]:
    """Reproduce the named experiments or sections (``names``; a path loads an outside section), or a whole
    ``suite`` (the paper's by default, ``'all'`` for every suite), into ``out``; returns the merged claims.

    A section from outside tms whose code fails (its configs, analyses, figures or claims raise) stops with a
    :class:`~tms.registry.SectionError` naming it, after the other sections' results are written and merged.

    ``overrides`` change every run (:class:`~tms.config.Overrides`: a base seed that keeps each run's seed
    offset, recipe fields, experiment parameters such as the §3 grid). ``executor`` (:mod:`tms.executors`): train
    every run folder with it first (a Ray cluster, say); the experiments then find them trained. Without it each
    experiment trains its own runs in this process, as the local executor would."""
    reg, experiments = select(names, suite)
    overrides = overrides or Overrides()
    per_experiment = {exp.name: for_experiment(overrides, exp, experiments) for exp in experiments}
    for exp in experiments:  # refuse a bad override, or an outside section whose configs fail, before any work
        _guarded(reg, exp, "configs", lambda: exp.run_configs(quick, per_experiment[exp.name]))
    out = Path(out)
    if executor is not None:
        tasks = run_tasks(names, out, quick=quick, overrides=overrides, device=device, engine=engine, suite=suite)
        failed = [r for r in train_tasks(executor, tasks, progress) if r["status"] == "failed"]
        if failed:
            raise TrainingError(f"{failed[0]['label']}: {failed[0]['error']}"
                                + (f" (and {len(failed) - 1} more failed runs)" if len(failed) > 1 else ""))
    state_path = out / STATE_FILE
    state = _read_state(state_path)
    results: list[ClaimResult] = []
    failures: list[SectionError] = []
    done: list[Experiment] = []
    start = time.perf_counter()
    state["catalog"] = [{**e.describe(), "origin": reg.origins[n].to_dict()} for n, e in reg.experiments.items()]
    for exp in experiments:
        t0 = time.perf_counter()
        if any(u not in {d.name for d in done} for u in exp.uses if u in {e.name for e in experiments}):
            continue  # an experiment it reads failed
        try:
            spent, figures, claim_results = _guarded(reg, exp, "pipeline", lambda: run_experiment(
                exp, out / exp.name, quick=quick, overrides=per_experiment[exp.name], device=device, engine=engine,
                threads=threads, progress=progress))
        except SectionError as e:
            failures.append(e)
            log.error("%s", e)
            continue
        done.append(exp)
        results += claim_results
        entry = state["experiments"].get(exp.name, {})
        entry.update({
            "declaration": exp.describe(),
            "origin": reg.origins[exp.name].to_dict(),
            "quick": quick,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "figures": [p.relative_to(out).as_posix() for p in figures],
        })
        if spent:  # keep the training time of the run that actually trained it
            entry["train_seconds"] = round(sum(spent.values()), 2)
        entry["wall_seconds"] = round(time.perf_counter() - t0, 2)
        state["experiments"][exp.name] = entry
        atomic_write_json(state_path, state)
        if on_experiment is not None:
            on_experiment(exp, time.perf_counter() - t0)
    state["environment"] = environment(threads)
    state["last_wall_seconds"] = round(time.perf_counter() - start, 2)
    atomic_write_json(state_path, state)
    merged = merge_claims(out, results, done, order=list(reg.experiments))
    if report:
        from .report import write_report

        write_report(out)
    if failures:
        raise failures[0] if len(failures) == 1 else SectionError(
            f"{failures[0]} (and {len(failures) - 1} more failed sections)")
    return merged


def _guarded(reg: Registry, exp: Experiment, stage: str, work: Callable[[], Any]) -> Any:
    """``work()``; for a section from outside tms, an error of its code becomes a one-line SectionError naming the
    section and the cause (tms's own sections keep their traceback: there it is a bug to fix)."""
    origin = reg.origins[exp.name]
    if origin.builtin:
        return work()
    try:
        return work()
    except SectionError:
        raise
    except TMSError as e:
        raise SectionError(f"section {origin.section} ({origin}), experiment {exp.name}: {e}") from None
    except Exception as e:
        log.debug("section %s failed", origin.section, exc_info=True)
        first = str(e).splitlines()[0] if str(e) else ""
        raise SectionError(f"section {origin.section} ({origin}), experiment {exp.name}: its {stage} raised "
                           f"{e.__class__.__name__}" + (f": {first}" if first else "")) from None
