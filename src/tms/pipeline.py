"""The one-way pipeline of an experiment: config → train → run folders → analyze → figures and claims.

Each stage reads only what the stage before it wrote:

1. :func:`experiment_tasks` and :func:`train_tasks`: every run folder the experiment declares, as executor tasks
   (:mod:`tms.executors`) mapped over the runtime's executor (:class:`~tms.runtime.Runtime`: the local one by
   default), each trained only where it is missing or was trained from another config (a run evaluated on another
   number of batches is evaluated again, not retrained); a sweep (:mod:`tms.reproduce`) maps the tasks of all its
   experiments at once;
2. :func:`analyze`: the experiment's analyses write its derived tables (``tables/``) from the run folders;
3. :func:`draw`: its figures, from the run folders and the tables (``figures/``, PNG and SVG);
4. :func:`check`: its claims, from the tables only.

:func:`redraw` (``tms plot``) runs stages 2 and 3 again for a run, experiment or results folder.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from pathlib import Path
from typing import Any, Sequence

from .analysis.folder import ExperimentFolder
from .analysis.models import analyze_models
from .claims.base import ClaimResult
from .config import Overrides, RunConfig
from .errors import RunFolderError
from .executors import RunTask, task_error
from .experiment import Experiment, FigureSpec
from .folders import redrawing
from .layout import CONFIG_FILE, STATE_FILE
from .plotting import gram, save_figure, vectors
from .registry import all_experiments
from .runs import iter_runs, read_meta
from .runtime import Runtime
from .train import snapshot_steps

log = logging.getLogger(__name__)

PLAIN_RUN = Experiment(
    name="run", title="A run", section="Runs", summary="a run folder written by tms train",
    configs=lambda quick: {}, analyses=(analyze_models,),
    figures=(FigureSpec("run_gram", partial(gram.best_restarts, run="", suptitle="{model} model, n = {n}, m = {m}: "
                                                                                "WᵀW, b and ‖W_i‖")),
             FigureSpec("run_vectors", partial(vectors.best_restarts, run="", suptitle="{model} model, n = {n}, "
                                                                                       "m = {m}: W_i as 2-D vectors"))),
)
"""What ``tms plot`` draws for a run that no experiment wrote (from ``tms train``)."""


def experiment_tasks(exp: Experiment, folder: Path, configs: dict[str, RunConfig], *, quick: bool = False,
                     runtime: Runtime | None = None) -> list[RunTask]:
    """The run folders of ``configs`` (``exp``'s, in ``folder``) as executor tasks, with the snapshots ``exp``
    asks for and the runtime's device and engine; the paths absolute, for workers that run elsewhere."""
    runtime = runtime or Runtime()
    folder = Path(folder).absolute()
    tasks = []
    for sub, cfg in configs.items():
        snapshots = snapshot_steps(exp.snapshots(sub, cfg), cfg.recipe.steps)
        tasks.append(RunTask(path=str(folder / sub if sub else folder), config=cfg.to_dict(), experiment=exp.name,
                             run=sub, snapshots=tuple(snapshots) if snapshots else None, quick=quick,
                             device=runtime.device, engine=runtime.engine))
    return tasks


def train_tasks(tasks: Sequence[RunTask], runtime: Runtime | None = None) -> list[dict[str, Any]]:
    """Train ``tasks`` over the runtime's executor, with a progress bar over run folders when it asks for one;
    the tasks' results in order (:func:`tms.executors.run_task`). A failed task is logged and returned, not
    raised: its experiment decides (:func:`trained_seconds`)."""
    runtime = runtime or Runtime()
    if runtime.progress:
        from tqdm.auto import tqdm  # in Jupyter it wants ipywidgets: imported only when a bar is asked for
    else:
        from tqdm import tqdm
    with tqdm(total=len(tasks), desc="run folders", unit="run", disable=not runtime.progress, leave=False) as bar:
        def done(res: dict[str, Any]) -> None:
            bar.update(1)
            if res["status"] == "failed":  # raised or reported by its experiment: one line, not two
                log.info("%s failed: %s", res["label"], res["error"])
            elif res["status"] == "skipped":
                log.info("%s: already trained, skipping", res["label"])
            elif res["status"] == "evaluated":
                log.info("%s: trained from this config, evaluated again", res["label"])

        return runtime.map(tasks, done)


def trained_seconds(tasks: Sequence[RunTask], results: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The seconds spent per run trained now (by run name); the first failed task's error, raised."""
    for res in results:
        if res["status"] == "failed":
            raise task_error(res)
    return {task.run: res["seconds"] for task, res in zip(tasks, results) if res["status"] == "trained"}


class _Stage:
    """Names the part of a section that raised (``analysis analyze_x``, ``figure x``, ``claim X-1``) on the
    exception, for the one-line error an outside section's failure ends with (:func:`tms.reproduce`)."""

    def __init__(self, what: str):
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, tb) -> bool:
        if error is not None and not hasattr(error, "tms_stage"):
            try:
                error.tms_stage = self.what  # type: ignore[union-attr]
            except AttributeError:  # an exception type that takes no attributes keeps the generic wording
                pass
        return False


def analyze(exp: Experiment, folder: ExperimentFolder) -> None:
    for analysis in exp.analyses:
        with _Stage(f"analysis {getattr(analysis, '__name__', analysis)}"):
            analysis(folder)


def draw(exp: Experiment, folder: ExperimentFolder) -> list[Path]:
    paths: list[Path] = []
    for spec in exp.figures:
        with _Stage(f"figure {spec.name}"):
            fig = spec.draw(folder)
        if fig is not None:
            paths += save_figure(fig, folder.figures_dir, spec.name)
    return paths


def check(exp: Experiment, folder: ExperimentFolder, quick: bool = False) -> list[ClaimResult]:
    """The experiment's claims on its tables; in quick mode measured but not checked."""
    out = []
    for claim in exp.claims:
        with _Stage(f"claim {claim.id}"):
            out.append(claim.check(folder, experiment=exp.name, checked=not quick))
    return out


def conclude(exp: Experiment, folder: Path, quick: bool = False, overrides: Overrides | None = None
             ) -> tuple[list[Path], list[ClaimResult]]:
    """Stages 2 to 4 on trained run folders: (figures, claim results). The analyses see ``quick`` and the
    experiment's parameters after ``overrides`` on the folder (:class:`ExperimentFolder`)."""
    ef = ExperimentFolder(folder, quick=quick, params=exp.parameters(overrides))
    analyze(exp, ef)
    figures = draw(exp, ef)
    return figures, check(exp, ef, quick)


def run_experiment(exp: Experiment, folder: Path, *, quick: bool = False, overrides: Overrides | None = None,
                   runtime: Runtime | None = None) -> tuple[dict[str, float], list[Path], list[ClaimResult]]:
    """All four stages for one experiment: (seconds per run trained now, figures, claim results)."""
    runtime = runtime or Runtime()
    tasks = experiment_tasks(exp, folder, exp.run_configs(quick, overrides), quick=quick, runtime=runtime)
    spent = trained_seconds(tasks, train_tasks(tasks, runtime))
    figures, results = conclude(exp, folder, quick, overrides)
    return spent, figures, results


def _experiment_of(run_dir: Path) -> tuple[Experiment, Path]:
    """The experiment that wrote a run folder and its experiment folder, or the plain-run figures. An experiment
    of a section loaded by path is found through the results folder's ``reproduce.json``, which records where
    the section was; RunFolderError when that section is no longer there."""
    extra = read_meta(run_dir).get("extra") or {}
    name = extra.get("experiment") if isinstance(extra, dict) else None
    if not isinstance(name, str):
        return PLAIN_RUN, run_dir
    exp_dir = run_dir
    for _ in Path(extra.get("run") or "").parts:
        exp_dir = exp_dir.parent
    experiments = all_experiments()
    if name not in experiments:
        where = _recorded_path(exp_dir.parent / STATE_FILE, name)
        if where is None:
            return PLAIN_RUN, run_dir
        if not Path(where).exists():
            raise RunFolderError(f"{exp_dir}: written by experiment {name} of the section at {where}, which is no "
                                 "longer there; tms plot needs its code to draw its figures")
        experiments = all_experiments([where])
    return experiments[name], exp_dir


def _recorded(state_file: Path) -> dict[str, Any]:
    """The experiments' entries of a ``reproduce.json`` (empty where it is missing, corrupt or foreign)."""
    try:
        entries = json.loads(state_file.read_text(encoding="utf-8"))["experiments"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return {}
    return {k: v for k, v in entries.items() if isinstance(v, dict)} if isinstance(entries, dict) else {}


def _recorded_path(state_file: Path, name: str) -> str | None:
    """Where ``reproduce.json`` says the section of experiment ``name`` was loaded from (None: not by path)."""
    origin = _recorded(state_file).get(name, {}).get("origin")
    return origin.get("where") if isinstance(origin, dict) and origin.get("kind") == "path" else None


def _recorded_run(exp_dir: Path, name: str) -> dict[str, Any]:
    """How ``reproduce.json`` beside an experiment folder says it ran: ``{"quick": bool, "params": {...}}`` as
    :class:`ExperimentFolder`'s keywords (empty where nothing usable is recorded: a folder of ``tms train`` or an
    older reproduction, whose analyses then see the defaults). An analysis that trains something itself (the SAE
    sections) finds its folders complete only with the settings they were trained with; with other settings the
    redraw refuses in one line (:func:`tms.folders.refuse_training`) rather than train them again."""
    entry = _recorded(exp_dir.parent / STATE_FILE).get(name, {})
    out: dict[str, Any] = {}
    if isinstance(entry.get("quick"), bool):
        out["quick"] = entry["quick"]
    params = entry.get("params")
    if isinstance(params, dict) and all(isinstance(k, str) and type(v) is int for k, v in params.items()):
        out["params"] = params
    return out


def redraw(path: Path | str, step: int | None = None) -> list[Path]:
    """Analyse and draw again, without training, from a run folder, an experiment folder or a results folder.

    A run written by an experiment is drawn by that experiment (on its experiment folder); any other run gets
    :data:`PLAIN_RUN`'s figures. An experiment without runs of its own (one that reads other experiments' runs, or
    trains only in its analysis, as the synthetic SAE sections) is drawn from its folder, named after it. Each is
    analysed as ``reproduce.json`` says it ran (quick or not, its parameters), and nothing trains: an analysis
    whose trained state (an SAE folder) is missing or was trained with other settings ends in a RunFolderError,
    and what was stored stays. With ``step``, from the runs' snapshots at that training step, into
    ``steps/<step>/`` (:class:`~tms.analysis.folder.ExperimentFolder`). RunFolderError for a missing, corrupt or
    foreign folder, one without runs, or a run without a snapshot at ``step``.
    """
    with redrawing():  # an analysis that trains (the SAE sections) only reads what was trained
        return _redraw(Path(path), step)


def _redraw(path: Path, step: int | None) -> list[Path]:
    if not path.exists():
        raise RunFolderError(f"run folder {path}: does not exist")
    if not path.is_dir():
        raise RunFolderError(f"run folder {path}: is not a folder")
    readers = _readers(path)
    if (path / CONFIG_FILE).exists():
        read_meta(path)  # a corrupt or foreign config.json is an error, not something to skip
        run_dirs = [path]
    else:
        run_dirs = list(iter_runs(path))
        if not run_dirs and (not readers or step is not None):
            raise RunFolderError(f"{path}: no tms run folders in it (expected a run, experiment or results folder)")
    done: set[Path] = set()
    out: list[Path] = []
    for run_dir in run_dirs:
        exp, exp_dir = _experiment_of(run_dir)
        if exp_dir.resolve() in done:
            continue
        done.add(exp_dir.resolve())
        folder = ExperimentFolder(exp_dir, step, **_recorded_run(exp_dir, exp.name))
        if step is not None:
            for sub in folder.run_names():
                folder.run(sub)  # every run has the snapshot, or one line naming the run and its stored steps
        analyze(exp, folder)
        out += draw(exp, folder)
    if step is None:
        for exp, exp_dir in readers:  # experiments without runs of their own, after those with
            folder = ExperimentFolder(exp_dir, **_recorded_run(exp_dir, exp.name))
            analyze(exp, folder)
            out += draw(exp, folder)
    return out


def _readers(path: Path) -> list[tuple[Experiment, Path]]:
    """The experiments without runs of their own that ``path`` is, or holds, the folder of: those that read other
    experiments' runs (``Experiment.uses``, with the folders of those beside them), and those that train nothing
    the pipeline trains (no run configs; their folder holds what their analysis wrote: ``tables/``)."""
    out = []
    for exp in _candidates(path):
        if not exp.uses and not _runless(exp):
            continue
        for folder in (path, path / exp.name):
            if folder.name == exp.name and folder.is_dir() and all((folder.parent / u).is_dir() for u in exp.uses) \
                    and (exp.uses or (folder / "tables").is_dir()):
                out.append((exp, folder))
                break
    return out


def _candidates(path: Path) -> list[Experiment]:
    """The installed experiments, and those of the sections that the ``reproduce.json`` of ``path`` (a results
    folder) or of its parent (``path`` an experiment folder) records as loaded by path, where they still are."""
    found = dict(all_experiments())
    for state in (path / STATE_FILE, path.parent / STATE_FILE):
        for name in _recorded(state):
            where = _recorded_path(state, name) if name not in found else None
            if where is not None and Path(where).exists():
                try:
                    found.update({k: v for k, v in all_experiments([where]).items() if k not in found})
                except Exception as e:  # its own error says what is wrong; the other experiments still draw
                    log.warning("section at %s: %s", where, e)
    return list(found.values())


def _runless(exp: Experiment) -> bool:
    """Whether ``exp`` trains no run folder (its default configs are empty)."""
    try:
        return not exp.run_configs()
    except Exception as e:  # a section whose configs cannot be built here is not one to redraw this way
        log.warning("experiment %s: its configs could not be built (%s); not redrawn", exp.name, e)
        return False
