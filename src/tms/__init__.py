"""tms: Toy Models of Superposition (Elhage et al., 2022), reproduced and checked.

Core: :mod:`tms.config` (what defines a run), :mod:`tms.data` (sparse features), :mod:`tms.model` (the toy
model), :mod:`tms.train` (the trainer), :mod:`tms.metrics`, :mod:`tms.runs` (stored runs).
"""

__version__ = "0.1.0"

from .config import Recipe, RunConfig  # noqa: E402
from .errors import ConfigError, RunFolderError, TMSError  # noqa: E402
from .runs import Run, load_run, save_run  # noqa: E402
from .train import TrainResult, train  # noqa: E402

__all__ = [
    "__version__",
    "Recipe",
    "RunConfig",
    "Run",
    "TrainResult",
    "ConfigError",
    "RunFolderError",
    "TMSError",
    "load_run",
    "save_run",
    "train",
]
