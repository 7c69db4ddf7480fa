"""tms: Toy Models of Superposition (Elhage et al., 2022), reproduced and checked.

The notebook API: :func:`train` (a :class:`RunConfig` in, a :class:`TrainResult` out), :func:`sweep` (named axes,
trained as one run where it can), :func:`load_run` (a stored :class:`Run`): each gives :class:`Results`, models that
know their names (``.sel(density=0.05)``, ``.best()``) and measure themselves (``.dimensionality()``,
``.table()``); :mod:`tms.plot` draws any of them in one call; :mod:`tms.metrics` holds the measures. Losses are
means over features: the paper's are n times larger (``.paper_loss()``).

Core: :mod:`tms.config` (what defines a run), :mod:`tms.data` (data distributions), :mod:`tms.model` (model
families), :mod:`tms.train` (the trainer), :mod:`tms.metrics`, :mod:`tms.runs` (stored runs), :mod:`tms.folders`
(training a run folder). Above it, the one-way pipeline: :mod:`tms.analysis` (derived tables), :mod:`tms.claims`,
:mod:`tms.plotting`, :mod:`tms.experiment` (the shape of a declaration), :mod:`tms.report`, :mod:`tms.reproduce`,
run as :mod:`tms.runtime` says (device, engine, threads, progress, executor). The paper's sections are packages
in :mod:`tms.sections`, found like anyone's through :mod:`tms.registry` (docs/SECTIONS.md). See
docs/ARCHITECTURE.md.
"""

import importlib
import sys
import types
from typing import Any


class _Package(types.ModuleType):
    """The package root, where ``tms.train`` is the trainer function, as it always was, not the module of that
    name: the import system binds a submodule on its package when it is first imported, from wherever that is."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "train" and isinstance(value, types.ModuleType):
            value = value.train
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package  # first, before any submodule is imported

from ._version import __version__  # noqa: E402
from .config import Overrides, Recipe, RunConfig  # noqa: E402
from .errors import ConfigError, OutputError, RunFolderError, TMSError  # noqa: E402
from . import metrics  # noqa: E402
from .results import Results, Selection  # noqa: E402
from .runs import Run, load_run, save_run  # noqa: E402

#: Names the package root gives from modules imported on first use, as (module, attribute; None: the module
#: itself): importing any tms module imports this root first, and reading results (``tms.runs``, the report) must
#: load neither the trainer and its engines nor the figures' matplotlib (:mod:`tms.plot`).
_LAZY = {"train": ("train", "train"), "TrainResult": ("train", "TrainResult"), "sweep": ("sweeps", "sweep"),
         "plot": ("plot", None), "runtime": ("runtime", None), "Runtime": ("runtime", "Runtime"), "llc": ("llc", None),
         "sae": ("sae", None)}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = importlib.import_module(f"{__name__}.{module}")
        if attribute is not None:
            value = getattr(value, attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "__version__",
    "Overrides",
    "Recipe",
    "RunConfig",
    "Results",
    "Run",
    "Runtime",
    "Selection",
    "TrainResult",
    "ConfigError",
    "OutputError",
    "RunFolderError",
    "TMSError",
    "llc",
    "load_run",
    "sae",
    "metrics",
    "plot",
    "save_run",
    "sweep",
    "train",
]
