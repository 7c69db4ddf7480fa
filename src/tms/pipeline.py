"""The one-way pipeline of an experiment: config → train → run folders → analyze → figures and claims.

Each stage reads only what the stage before it wrote:

1. :func:`train_runs`: every run folder the experiment declares, trained only where it is missing or was
   trained from another config (a run evaluated on another number of batches is evaluated again, not retrained);
2. :func:`analyze`: the experiment's analyses write its derived tables (``tables/``) from the run folders;
3. :func:`draw`: its figures, from the run folders and the tables (``figures/``, PNG and SVG);
4. :func:`check`: its claims, from the tables only.

:func:`redraw` (``tms plot``) runs stages 2 and 3 again for a run, experiment or results folder.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from .analysis.folder import ExperimentFolder
from .analysis.models import analyze_models
from .claims.base import ClaimResult
from .config import Overrides, RunConfig
from .errors import RunFolderError
from .experiment import Experiment, FigureSpec
from .layout import CONFIG_FILE
from .plotting import gram, save_figure, vectors
from .registry import all_experiments
from .folders import train_folder
from .runs import iter_runs, read_meta
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


def train_runs(exp: Experiment, folder: Path, configs: dict[str, RunConfig], *, quick: bool = False,
               device: str = "auto", engine: str = "auto", threads: int | None = None,
               progress: bool = False) -> dict[str, float]:
    """Train every run of ``configs`` that is not stored yet; the seconds spent per run trained now."""
    spent: dict[str, float] = {}
    for sub, cfg in configs.items():
        run_dir = folder / sub if sub else folder
        snapshots = snapshot_steps(exp.snapshots(sub, cfg), cfg.recipe.steps)
        status, seconds = train_folder(run_dir, cfg, snapshots, extra={"experiment": exp.name, "run": sub,
                                                                       "quick": quick},
                                       device=device, engine=engine, threads=threads, progress=progress)
        if status == "skipped":
            log.info("%s: %s already trained, skipping", exp.name, run_dir)
        elif status == "evaluated":
            log.info("%s: %s trained from this config, evaluated again", exp.name, run_dir)
        else:
            spent[sub] = seconds
    return spent


def analyze(exp: Experiment, folder: ExperimentFolder) -> None:
    for analysis in exp.analyses:
        analysis(folder)


def draw(exp: Experiment, folder: ExperimentFolder) -> list[Path]:
    paths: list[Path] = []
    for spec in exp.figures:
        fig = spec.draw(folder)
        if fig is not None:
            paths += save_figure(fig, folder.figures_dir, spec.name)
    return paths


def check(exp: Experiment, folder: ExperimentFolder, quick: bool = False) -> list[ClaimResult]:
    """The experiment's claims on its tables; in quick mode measured but not checked."""
    return [claim.check(folder, experiment=exp.name, checked=not quick) for claim in exp.claims]


def run_experiment(exp: Experiment, folder: Path, *, quick: bool = False, overrides: Overrides | None = None,
                   device: str = "auto", engine: str = "auto", threads: int | None = None,
                   progress: bool = False) -> tuple[dict[str, float], list[Path], list[ClaimResult]]:
    """All four stages: (seconds per run trained now, figures, claim results)."""
    spent = train_runs(exp, folder, exp.run_configs(quick, overrides), quick=quick, device=device, engine=engine,
                       threads=threads, progress=progress)
    ef = ExperimentFolder(folder)
    analyze(exp, ef)
    figures = draw(exp, ef)
    return spent, figures, check(exp, ef, quick)


def _experiment_of(run_dir: Path) -> tuple[Experiment, Path]:
    """The experiment that wrote a run folder and its experiment folder, or the plain-run figures."""
    extra = read_meta(run_dir).get("extra") or {}
    name = extra.get("experiment") if isinstance(extra, dict) else None
    experiments = all_experiments()
    if not isinstance(name, str) or name not in experiments:
        return PLAIN_RUN, run_dir
    exp_dir = run_dir
    for _ in Path(extra.get("run") or "").parts:
        exp_dir = exp_dir.parent
    return experiments[name], exp_dir


def redraw(path: Path | str, step: int | None = None) -> list[Path]:
    """Analyse and draw again, without training, from a run folder, an experiment folder or a results folder.

    A run written by an experiment is drawn by that experiment (on its experiment folder); any other run gets
    :data:`PLAIN_RUN`'s figures. With ``step``, from the runs' snapshots at that training step, into
    ``steps/<step>/`` (:class:`~tms.analysis.folder.ExperimentFolder`). RunFolderError for a missing, corrupt or
    foreign folder, one without runs, or a run without a snapshot at ``step``.
    """
    path = Path(path)
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
        folder = ExperimentFolder(exp_dir, step)
        if step is not None:
            for sub in folder.run_names():
                folder.run(sub)  # every run has the snapshot, or one line naming the run and its stored steps
        analyze(exp, folder)
        out += draw(exp, folder)
    if step is None:
        for exp, exp_dir in readers:  # experiments that read other experiments' runs, after those
            folder = ExperimentFolder(exp_dir)
            analyze(exp, folder)
            out += draw(exp, folder)
    return out


def _readers(path: Path) -> list[tuple[Experiment, Path]]:
    """The experiments without runs of their own (``Experiment.uses``) that ``path`` is, or holds, the folder of,
    with the folders of the experiments they read beside them."""
    out = []
    for exp in all_experiments().values():
        if not exp.uses:
            continue
        for folder in (path, path / exp.name):
            if folder.name == exp.name and folder.is_dir() and all((folder.parent / u).is_dir() for u in exp.uses):
                out.append((exp, folder))
                break
    return out
