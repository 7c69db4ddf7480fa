"""tms: Toy Models of Superposition (Elhage et al., 2022), reproduced and checked.

Core: :mod:`tms.config` (what defines a run), :mod:`tms.data` (data distributions), :mod:`tms.model` (model
families), :mod:`tms.train` (the trainer), :mod:`tms.metrics`, :mod:`tms.runs` (stored runs). Above it, the
one-way pipeline: :mod:`tms.analysis` (derived tables), :mod:`tms.claims`, :mod:`tms.plotting`,
:mod:`tms.experiment` (the shape of a declaration), :mod:`tms.report`, :mod:`tms.reproduce`. The paper's sections
are packages in :mod:`tms.sections`, found like anyone's through :mod:`tms.registry` (docs/SECTIONS.md). See
docs/ARCHITECTURE.md.
"""

from ._version import __version__
from .config import Overrides, Recipe, RunConfig
from .errors import ConfigError, OutputError, RunFolderError, TMSError
from .runs import Run, load_run, save_run
from .train import TrainResult, train

__all__ = [
    "__version__",
    "Overrides",
    "Recipe",
    "RunConfig",
    "Run",
    "TrainResult",
    "ConfigError",
    "OutputError",
    "RunFolderError",
    "TMSError",
    "load_run",
    "save_run",
    "train",
]
