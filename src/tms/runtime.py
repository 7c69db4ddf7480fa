"""How a sweep runs, as one value: :class:`Runtime`.

What defines an experiment (its configs, seeds, recipe: :class:`~tms.config.RunConfig`, :class:`~tms.config.Overrides`)
is kept apart from how it runs: the device, the engine, the CPU threads, whether a progress bar shows, and who trains
the run folders (the executor, :mod:`tms.executors`). Nothing here changes a number: the engines give the same
weights for any thread count and any executor, and ``engine='auto'`` picks the same engine everywhere.

``Runtime()`` is auto device, auto engine, torch's thread count, no progress bar, the local executor. The command
line builds one from its flags (``--device``, ``--engine``, ``--threads``, ``--progress``, ``--executor``); the
pipeline, :func:`tms.reproduce.reproduce` and :func:`tms.robustness.run_robustness` take it whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .config import ENGINES
from .errors import ConfigError
from .executors import Executor, LocalExecutor, RunTask


@dataclass(frozen=True)
class Runtime:
    """How run folders are trained. ``device``: 'auto' (CUDA when present), 'cpu' or 'cuda', resolved where each
    run trains (a Ray worker may have a GPU the driver lacks); ``engine``: one of :data:`tms.config.ENGINES`;
    ``threads``: torch threads for training in this process (None: torch's setting; a Ray task takes its
    ``cpus_per_task``); ``progress``: progress bars on stderr; ``executor``: who trains the run folders."""

    device: str = "auto"
    engine: str = "auto"
    threads: int | None = None
    progress: bool = False
    executor: Executor = field(default_factory=LocalExecutor)

    def __post_init__(self) -> None:
        # refused here, before any work, rather than by the first run that trains
        if self.engine not in ENGINES:
            raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise ConfigError(f"threads must be an integer >= 1, got {self.threads!r}")
        if not isinstance(self.executor, Executor):
            raise ConfigError(f"executor must be a tms.executors.Executor, got {self.executor!r}")

    def map(self, tasks: Sequence[RunTask], on_done: Callable[[dict[str, Any]], None] | None = None
            ) -> list[dict[str, Any]]:
        """Train ``tasks`` with this runtime's executor, threads and progress; their results in task order."""
        return self.executor.map(tasks, on_done, threads=self.threads, progress=self.progress)


def as_runtime(runtime: Runtime | None = None, **fields: Any) -> Runtime:
    """``runtime``, or a Runtime of the fields given as keywords (``device='cpu'``, ``executor=...``; None keeps a
    field's default), for callers that name them one by one. TypeError for both at once or an unknown field."""
    given = {k: v for k, v in fields.items() if v is not None}
    if runtime is None:
        return Runtime(**given)
    if given:
        raise TypeError(f"pass either runtime= or its fields ({', '.join(given)}), not both")
    return runtime
