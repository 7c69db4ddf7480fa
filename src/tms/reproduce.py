"""``tms reproduce``: every experiment of a suite (or the named ones) through the pipeline, then claims.json and the
findings report.

A reproduction is planned (:func:`plan`: the experiments, their overrides, every run folder as an executor task),
its run folders are trained by mapping the tasks over the runtime's executor (:class:`~tms.runtime.Runtime`: the
local one unless it names another), and each experiment is then analysed, drawn and checked (:func:`finish`).
Each experiment's declaration (title, heading, suite, summary, notes, parameters, origin) is written into
``reproduce.json`` beside its results, so that reading them (``tms report``) never imports a section's code.

Resuming is built in: a run folder that is complete and was trained from the same config is not trained
again (:func:`tms.executors.run_task`), so an interrupted reproduction picks up where it stopped; every file is
written atomically, so an interruption leaves nothing half-written.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import torch

from ._version import __version__
from .claims.base import ClaimResult, read_claims, write_claims
from .config import Overrides
from .errors import ConfigError, OutputError, RunFolderError, TMSError
from .executors import RunTask
from .experiment import Experiment
from .files import atomic_write_json
from .layout import CLAIMS_FILE, STATE_FILE
from .pipeline import conclude, experiment_tasks, train_tasks, trained_seconds
from .registry import Registry, SectionError, choose, discover
from .runtime import Runtime, as_runtime

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


select = choose
"""The registry and the experiments that names, paths or a suite choose (:func:`tms.registry.choose`)."""


@dataclass(frozen=True)
class Plan:
    """A reproduction before it runs: what it reproduces into ``out`` and every run folder it trains, as tasks
    (in registry order, experiment by experiment). Made by :func:`plan`."""

    registry: Registry
    experiments: list[Experiment]
    out: Path
    quick: bool
    overrides: dict[str, Overrides]
    """Each experiment's overrides: only the parameters it takes (:func:`for_experiment`)."""
    tasks: list[RunTask]


def plan(names: list[str] | None, out: Path | str, *, quick: bool = False, overrides: Overrides | None = None,
         runtime: Runtime | None = None, suite: str | None = None) -> Plan:
    """The plan of reproducing ``names`` (or ``suite``) into ``out``; ConfigError for a bad override, and a
    one-line SectionError for an outside section whose configs fail, before any work."""
    runtime = runtime or Runtime()
    reg, experiments = select(names, suite)
    overrides = overrides or Overrides()
    per_experiment = {exp.name: for_experiment(overrides, exp, experiments) for exp in experiments}
    out = Path(out)
    tasks: list[RunTask] = []
    for exp in experiments:
        tasks += _guarded(reg, exp, "configs", lambda: experiment_tasks(
            exp, out / exp.name, exp.run_configs(quick, per_experiment[exp.name]), quick=quick, runtime=runtime))
    return Plan(registry=reg, experiments=experiments, out=out, quick=quick, overrides=per_experiment, tasks=tasks)


def run_tasks(names: list[str] | None, out: Path | str, *, quick: bool = False, overrides: Overrides | None = None,
              runtime: Runtime | None = None, suite: str | None = None) -> list[RunTask]:
    """Every run folder that reproducing ``names`` into ``out`` trains, as executor tasks (:mod:`tms.executors`),
    experiment by experiment in registry order; ConfigError for a bad override before any work."""
    return plan(names, out, quick=quick, overrides=overrides, runtime=runtime, suite=suite).tasks


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
    report: bool = True,
    on_experiment: Callable[[Experiment, float], None] | None = None,
    suite: str | None = None,
    runtime: Runtime | None = None,
    **how: Any,
) -> list[ClaimResult]:
    """Reproduce the named experiments or sections (``names``; a path loads an outside section), or a whole
    ``suite`` (the paper's by default, ``'all'`` for every suite), into ``out``; returns the merged claims.

    ``overrides`` change what runs (:class:`~tms.config.Overrides`: a base seed that keeps each run's seed
    offset, recipe fields, experiment parameters such as the §3 grid); ``runtime`` (:class:`~tms.runtime.Runtime`)
    how it runs: device, engine, threads, progress bars and the executor that trains every run folder (the local
    one by default, a Ray cluster, ...). Its fields may be given as keywords instead (``device='cpu'``).
    ``on_experiment(experiment, seconds)`` is called as each experiment is done.

    A section from outside tms whose code fails (its configs, analyses, figures or claims raise) stops with a
    :class:`~tms.registry.SectionError` naming it, after the other sections' results are written and merged."""
    start = time.perf_counter()
    runtime = as_runtime(runtime, **how)
    planned = plan(names, out, quick=quick, overrides=overrides, runtime=runtime, suite=suite)
    results = train_tasks(planned.tasks, runtime)
    return finish(planned, results, runtime, report=report, on_experiment=on_experiment, start=start)


def finish(planned: Plan, results: list[dict[str, Any]], runtime: Runtime | None = None, *, report: bool = True,
           on_experiment: Callable[[Experiment, float], None] | None = None, start: float | None = None
           ) -> list[ClaimResult]:
    """After the plan's tasks ran (``results``, in task order): each experiment analysed, drawn and checked,
    ``reproduce.json`` and ``claims.json`` written, and the report. An experiment with a failed run raises that
    run's error there (a section from outside tms: a SectionError, after the others). ``start``: when the
    reproduction began (:func:`time.perf_counter`), for its wall time; by default now, less its tasks' time."""
    runtime = runtime or Runtime()
    if start is None:
        start = time.perf_counter() - sum(r["wall_seconds"] for r in results)
    reg, out = planned.registry, planned.out
    state_path = out / STATE_FILE
    state = _read_state(state_path)
    # the experiments of the suites that ran, so that the report lists the ones not run beside them
    suites = {e.suite for e in planned.experiments}
    state["catalog"] = [{**e.describe(), "origin": reg.origins[n].to_dict()} for n, e in reg.experiments.items()
                        if e.suite in suites]
    ran: dict[str, tuple[list[RunTask], list[dict[str, Any]]]] = {e.name: ([], []) for e in planned.experiments}
    for task, res in zip(planned.tasks, results):
        ran[task.experiment][0].append(task)
        ran[task.experiment][1].append(res)
    claims: list[ClaimResult] = []
    failures: list[SectionError] = []
    done: list[Experiment] = []
    chosen = {e.name for e in planned.experiments}
    for exp in planned.experiments:
        if any(u not in {d.name for d in done} for u in exp.uses if u in chosen):
            continue  # an experiment it reads failed
        t0 = time.perf_counter() - sum(r["wall_seconds"] for r in ran[exp.name][1])
        try:
            spent, figures, claim_results = _guarded(reg, exp, "pipeline",
                                                     lambda: _conclude(planned, exp, *ran[exp.name]))
        except SectionError as e:
            failures.append(e)
            log.debug("%s", e)  # the command's one line says it once, after the others finished
            continue
        done.append(exp)
        claims += claim_results
        _record(state, planned, exp, spent, figures, time.perf_counter() - t0)
        atomic_write_json(state_path, state)
        if on_experiment is not None:
            on_experiment(exp, time.perf_counter() - t0)
    state["environment"] = environment(runtime.threads)
    state["last_wall_seconds"] = round(time.perf_counter() - start, 2)
    atomic_write_json(state_path, state)
    merged = merge_claims(out, claims, done, order=list(reg.experiments))
    if report:
        from .report import write_report

        write_report(out)
    if failures:
        raise failures[0] if len(failures) == 1 else SectionError(
            f"{failures[0]} (and {len(failures) - 1} more failed sections)")
    return merged


def _conclude(planned: Plan, exp: Experiment, tasks: list[RunTask], results: list[dict[str, Any]]
              ) -> tuple[dict[str, float], list[Path], list[ClaimResult]]:
    """One experiment after its runs: (seconds per run trained now, figures, claims); its first failed run raised."""
    spent = trained_seconds(tasks, results)
    figures, claim_results = conclude(exp, planned.out / exp.name, planned.quick, planned.overrides.get(exp.name))
    return spent, figures, claim_results


def _record(state: dict[str, Any], planned: Plan, exp: Experiment, spent: dict[str, float], figures: list[Path],
            wall: float) -> None:
    """``exp``'s entry of ``reproduce.json``: its declaration, origin, figures and times."""
    entry = state["experiments"].get(exp.name, {})
    entry.update({
        "declaration": exp.describe(),
        "origin": planned.registry.origins[exp.name].to_dict(),
        "quick": planned.quick,
        "params": exp.parameters(planned.overrides.get(exp.name)),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "figures": [p.relative_to(planned.out).as_posix() for p in figures],
    })
    if spent:  # keep the training time of the run that actually trained it
        entry["train_seconds"] = round(sum(spent.values()), 2)
    entry["wall_seconds"] = round(wall, 2)
    state["experiments"][exp.name] = entry


def _guarded(reg: Registry, exp: Experiment, stage: str, work: Callable[[], Any]) -> Any:
    """``work()``; for a section from outside tms, an error of its code becomes a one-line SectionError naming the
    section and the cause (tms's own sections keep their traceback: there it is a bug to fix)."""
    origin = reg.origins[exp.name]
    if origin.builtin:
        return work()
    try:
        return work()
    except (SectionError, OutputError):
        raise  # an output that cannot be written stays exit code 3, whoever's code wrote it
    except TMSError as e:
        raise SectionError(f"section {origin.section} ({origin}), experiment {exp.name}: {e}") from None
    except Exception as e:
        log.debug("section %s failed", origin.section, exc_info=True)
        first = str(e).splitlines()[0] if str(e) else ""
        raise SectionError(f"section {origin.section} ({origin}), experiment {exp.name}: its "
                           f"{getattr(e, 'tms_stage', stage)} raised "
                           f"{e.__class__.__name__}" + (f": {first}" if first else "")) from None
