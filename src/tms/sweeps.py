"""A named sweep: :func:`sweep` trains the product of its axes and keeps their names, for selection
(``grid.sel(density=0.05, importance_decay=0.9)``) and for plots (:mod:`tms.plot`).

``density`` and ``importance_decay`` are axes *within* a run: their product, each setting trained ``restarts``
times, is one :class:`~tms.config.RunConfig` (settings ordered by importance_decay, then density, as given), so the
whole grid trains as one run of many instances. For a single decay it is exactly
``RunConfig.uniform(n, m, density, importance_decay, restarts=...)``. (With the paper's initialisation a setting's
initial scale depends on how many settings train together, PAPER.md §0, so a grid's models are not those of
separate runs of one setting each.) Any other field given as a list (``n``, ``m``, ``model``, ``data``, ``seed``
or a :class:`~tms.config.Recipe` field such as ``lr`` or ``steps``; ``betas`` as a list of pairs) is an axis
*across* runs: one RunConfig per combination, and the result names each model's value (``grid.sel(lr=0.01)``).

**Where it trains** is the :class:`~tms.runtime.Runtime`'s (``runtime=``, or its fields ``device``, ``engine``,
``threads``, ``progress`` as keywords), never what it trains:

- without ``path``, the runs train in this process, one after the other, with the runtime's device, engine, threads
  and progress (as the local executor trains a run folder, but keeping the result in memory): a sweep of one config
  gives its :class:`~tms.train.TrainResult`, one of several a :class:`Sweep`;
- with ``path``, every run is a run folder (``path`` itself for one config, ``path/<name=value,...>`` for several),
  trained as a :class:`~tms.executors.RunTask` by the runtime's executor (local, or Ray on a folder every worker
  sees); a complete folder is not trained again, so a rerun resumes; the result is read back from the folders (a
  :class:`~tms.runs.Run`, or a :class:`Sweep` of them). An executor other than the local one needs ``path``.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .config import Recipe, RunConfig
from .errors import ConfigError
from .executors import LocalExecutor, RunTask, task_error
from .results import Results, Selection, match_key
from .runs import load_run, run_state
from .runtime import Runtime, as_runtime
from .train import snapshot_steps, train

#: The axes within one run: their product is its settings.
WITHIN = ("density", "importance_decay")
#: RunConfig fields a sweep takes under these names; as lists, axes across runs.
CONFIG_FIELDS = {"n": "n_features", "m": "n_hidden", "model": "model", "data": "data", "seed": "seed"}
RECIPE_FIELDS = tuple(f.name for f in dataclasses.fields(Recipe))
RUNTIME_FIELDS = ("device", "engine", "threads", "progress")


@dataclass(frozen=True, repr=False, eq=False)
class Sweep(Selection):
    """Every model of a sweep of several runs, named by the axes across runs too (a :class:`Selection`); ``runs``
    are the runs themselves (:class:`~tms.train.TrainResult`\\ s, or :class:`~tms.runs.Run`\\ s read from ``path``),
    with their training logs, and ``names`` each run's values of the axes across runs."""

    runs: tuple[Results, ...] = ()
    names: tuple[dict[str, Any], ...] = ()


def _is_axis(name: str, value: Any) -> bool:
    if name == "betas":  # a pair is one value; a list of pairs is an axis
        return isinstance(value, (list, tuple)) and bool(value) and isinstance(value[0], (list, tuple))
    return isinstance(value, (list, tuple, range))


def _values(name: str, value: Any) -> list[Any]:
    """An axis' values (a scalar is one), refusing none and repeats (they would train the same models twice)."""
    values = list(value) if _is_axis(name, value) else [value]
    if not values:
        raise ConfigError(f"sweep: {name} must have at least one value")
    keys = [match_key(v) if not isinstance(v, (list, tuple)) else tuple(v) for v in values]
    if len(set(keys)) < len(keys):
        raise ConfigError(f"sweep: {name} lists a value twice ({', '.join(map(str, values))})")
    return values


def _run_config(n: int, m: int, density: Sequence[float], decays: Sequence[float], restarts: int,
                **fields: Any) -> RunConfig:
    """One run whose settings are every (importance_decay, density), decay-major."""
    parts = [RunConfig.uniform(n, m, density, decay, restarts=restarts, **fields) for decay in decays]
    if len(parts) == 1:
        return parts[0]
    return dataclasses.replace(parts[0], density=tuple(row for p in parts for row in p.density),
                               importance=tuple(row for p in parts for row in p.importance))


def configs(n: Any = 5, m: Any = 2, density: Any = 1.0, importance_decay: Any = 1.0, restarts: int = 1,
            recipe: Recipe | None = None, **fields: Any) -> list[tuple[dict[str, Any], RunConfig]]:
    """The runs of :func:`sweep` with these arguments, without training: per run, its values of the axes across
    runs (empty for a sweep of one run) and its config. ``fields``: RunConfig fields by their sweep names
    (:data:`CONFIG_FIELDS`) and Recipe fields."""
    unknown = sorted(set(fields) - set(CONFIG_FIELDS) - set(RECIPE_FIELDS))
    if unknown:
        raise ConfigError(f"sweep: unknown field(s) {', '.join(unknown)}; a sweep takes n, m, density, "
                          f"importance_decay, restarts, {', '.join(k for k in CONFIG_FIELDS if k not in 'nm')}, the "
                          f"Recipe's fields ({', '.join(RECIPE_FIELDS)}), path, runtime (or "
                          f"{', '.join(RUNTIME_FIELDS)}) and snapshots")
    given = {"n": n, "m": m, **fields}
    across = {k: _values(k, v) for k, v in given.items() if _is_axis(k, v)}
    fixed = {k: v for k, v in given.items() if k not in across}
    densities, decays = _values("density", density), _values("importance_decay", importance_decay)
    base = recipe if recipe is not None else Recipe()
    out = []
    for combo in itertools.product(*across.values()):
        names = dict(zip(across, combo))
        values = {**fixed, **names}
        run_fields = {CONFIG_FIELDS[k]: v for k, v in values.items() if k in CONFIG_FIELDS}
        run_recipe = dataclasses.replace(base, **{k: v for k, v in values.items() if k in RECIPE_FIELDS})
        out.append((names, _run_config(run_fields.pop("n_features"), run_fields.pop("n_hidden"), densities, decays,
                                       restarts, recipe=run_recipe, **run_fields)))
    return out


def _folder_name(names: dict[str, Any]) -> str:
    def text(v: Any) -> str:
        if isinstance(v, (list, tuple)):
            return "-".join(text(x) for x in v)
        return f"{v:g}" if isinstance(v, float) else str(v)

    return ",".join(f"{k}={text(v)}" for k, v in names.items())


def _train_here(runs: list[tuple[dict[str, Any], RunConfig]], rt: Runtime, snapshots: Any) -> list[Results]:
    return [train(cfg, device=rt.device, engine=rt.engine, threads=rt.threads, progress=rt.progress,
                  snapshots=snapshots) for _, cfg in runs]


def _train_folders(runs: list[tuple[dict[str, Any], RunConfig]], rt: Runtime, snapshots: Any, path: Path
                   ) -> list[Results]:
    """Each run as a run folder under ``path``, trained by the runtime's executor (complete ones skipped)."""
    folders = [path if len(runs) == 1 else path / _folder_name(names) for names, _ in runs]
    for folder, (_, cfg) in zip(folders, runs):
        # a folder holding anything else is the user's, not ours to replace
        if folder.exists() and run_state(folder, cfg) == "train" and (not folder.is_dir() or any(folder.iterdir())):
            raise ConfigError(f"sweep: {folder} already holds something other than this run; delete it or choose "
                              "another path")
    tasks = [RunTask(path=str(folder.resolve()), config=cfg.to_dict(), experiment="sweep",
                     run="" if len(runs) == 1 else folder.name,
                     snapshots=tuple(snapshot_steps(snapshots, cfg.recipe.steps)) or None,
                     device=rt.device, engine=rt.engine)
             for folder, (_, cfg) in zip(folders, runs)]
    for result in rt.map(tasks):
        if result["status"] == "failed":
            raise task_error(result)
    return [load_run(folder) for folder in folders]


def sweep(n: Any = 5, m: Any = 2, density: Any = 1.0, importance_decay: Any = 1.0, restarts: int = 1, *,
          path: Path | str | None = None, runtime: Runtime | None = None, snapshots: Any = None,
          recipe: Recipe | None = None, **fields: Any) -> Results:
    """Train ``n`` features in ``m`` dimensions at every ``density`` x ``importance_decay`` (lists, or one value
    each), ``restarts`` models per setting, as one run where it can (see the module docstring); ``fields``: the
    model, data, seed and Recipe fields (``steps=2000``, ``lr=[1e-3, 1e-2]``: a list is an axis across runs), or the
    runtime's (``device``, ``engine``, ``threads``, ``progress``) when ``runtime`` is not given; ``recipe``: the
    Recipe those fields change (the paper's by default); ``snapshots`` as :func:`tms.train.train` takes them.

    Returns :class:`~tms.results.Results` that name every model (``density``, ``importance_decay``, each axis
    across runs, ``setting``, ``restart``): the run's TrainResult (or Run, with ``path``) for one config, a
    :class:`Sweep` for several. Losses are means over features (the paper's are n times larger)."""
    rt = as_runtime(runtime, **{k: fields.pop(k) for k in RUNTIME_FIELDS if k in fields})
    runs = configs(n, m, density, importance_decay, restarts, recipe, **fields)
    if path is None and not isinstance(rt.executor, LocalExecutor):
        raise ConfigError(f"sweep: the {rt.executor.name} executor trains run folders: pass path= (a folder every "
                          "worker sees)")
    results = _train_here(runs, rt, snapshots) if path is None else _train_folders(runs, rt, snapshots, Path(path))
    if len(results) == 1:
        return results[0]
    blocks = tuple(b for (names, _), r in zip(runs, results) for b in r.named(**names).blocks)
    return Sweep(blocks, runs=tuple(results), names=tuple(names for names, _ in runs))
