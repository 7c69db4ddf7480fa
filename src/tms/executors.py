"""Executors: who trains the run folders of a sweep. Every sweep (``tms reproduce``, ``tms robustness``, one
experiment of the pipeline) maps its run folders over one, the local one unless the :class:`~tms.runtime.Runtime`
names another.

A sweep is a list of :class:`RunTask`: one task = one run folder, trained from its config by :func:`run_task`, which
is idempotent (a folder already complete for that config is skipped; one trained from the same config but evaluated
on another number of batches is evaluated again) and writes atomically (an interrupted task leaves no complete
folder, so a retry or a rerun trains it again, to the same numbers). After the tasks, the driver analyses, draws and
checks as always, in its own process: an experiment's stages after training read only the run folders.

- ``local`` (:class:`LocalExecutor`, the default): the tasks one after the other in this process, with the
  runtime's threads and, when asked, a progress bar over each run's steps;
- ``ray`` (:class:`RayExecutor`, ``pip install "tms-superposition[ray]"``): the tasks as Ray tasks, on a Ray
  started on this machine or a running cluster (``ray_address``: 'auto' or host:port), each with
  ``cpus_per_task`` CPUs and as many torch threads; Ray retries a task whose worker died (``max_retries``).

**Where tasks write: a shared path.** Every task writes its run folder straight to the results folder, which every
node must see at the same path (a network file system on a cluster; on one machine, the disk). Nothing large
travels through Ray: a task returns a small dict (folder, seconds, status, and under Ray the id of the node that
ran it, which the driver logs). The driver checks that each folder is complete afterwards. The results do not
depend on the executor: the fast engine gives bit-identical weights for any thread count
(:mod:`tms.engines.fast.parallel`), so a run trained by a Ray worker with one thread holds the same numbers as the
same run trained locally with two.

**A task that fails** (training diverged, any error of tms) returns ``status: failed`` with the one-line reason and
the error's class (:func:`task_error` raises it again in the driver); the driver then fails that experiment, or
that variant's claims, instead of stopping the other tasks. Errors outside tms (a worker killed) are Ray's to
retry.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from .config import RunConfig
from .errors import ConfigError, OutputError, RunFolderError, TMSError, TrainingError

log = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")
RAY_INSTALL = 'pip install "tms-superposition[ray]"'


@dataclass(frozen=True)
class RunTask:
    """One run folder to train: everything a worker needs, as plain values (it pickles small, and the worker
    rebuilds the config from its dict)."""

    path: str
    """The run folder, absolute (the same path on every node)."""
    config: dict[str, Any]
    """:meth:`RunConfig.to_dict` of its config."""
    experiment: str
    run: str
    """The run's name inside its experiment folder ('' for the folder itself)."""
    snapshots: tuple[int, ...] | None = None
    quick: bool = False
    device: str = "auto"
    engine: str = "auto"

    @property
    def label(self) -> str:
        return f"{self.experiment}/{self.run}" if self.run else self.experiment


def run_task(task: RunTask, threads: int | None = None, progress: bool = False) -> dict[str, Any]:
    """Train ``task``'s run folder unless it is complete (idempotent); returns ``{"path", "label", "status",
    "seconds", "wall_seconds", "error", "error_type", "node"}``: status 'trained', 'evaluated', 'skipped' or
    'failed'; ``seconds`` the training's own time (0 unless trained or evaluated now), ``wall_seconds`` the whole
    task's; ``node`` None here (this process), the Ray node's id for a task that ran under Ray
    (:func:`_ray_run_task`). ``progress``: a bar over the run's steps (in this process)."""
    from .folders import train_folder

    start = time.perf_counter()
    out: dict[str, Any] = {"path": task.path, "label": task.label, "status": "skipped", "seconds": 0.0,
                           "error": None, "error_type": None, "node": None}
    try:
        cfg = RunConfig.from_dict(task.config)
        out["status"], out["seconds"] = train_folder(
            task.path, cfg, list(task.snapshots) if task.snapshots else None,
            extra={"experiment": task.experiment, "run": task.run, "quick": task.quick},
            device=task.device, engine=task.engine, threads=threads, progress=progress)
    except TMSError as e:  # the run's own failure (a diverged training, ...): the variant fails, the sweep goes on
        out.update(status="failed", error=str(e), error_type=e.__class__.__name__)
    out["wall_seconds"] = time.perf_counter() - start
    return out


#: The errors a failed task's ``error_type`` names, raised again by :func:`task_error` (any other: TrainingError).
_ERRORS = {cls.__name__: cls for cls in (TMSError, ConfigError, RunFolderError, TrainingError, OutputError)}


def task_error(result: dict[str, Any]) -> TMSError:
    """The error of a failed task's result, of the class it was raised with where the task ran (so an output that
    could not be written still ends with exit code 3, a bad device with 2) and its one-line message."""
    return _ERRORS.get(result.get("error_type") or "", TrainingError)(result["error"])


class Executor:
    """Runs tasks; ``map`` returns their results in task order and calls ``on_done`` with each as it finishes.
    ``threads`` and ``progress`` are the runtime's, for executors that train in this process."""

    name = "executor"

    def map(self, tasks: Sequence[RunTask], on_done: Callable[[dict[str, Any]], None] | None = None, *,
            threads: int | None = None, progress: bool = False) -> list[dict[str, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        return None


class LocalExecutor(Executor):
    """The tasks one after the other in this process, each with ``threads`` torch threads (default torch's) and,
    with ``progress``, a bar over its steps."""

    name = "local"

    def map(self, tasks, on_done=None, *, threads=None, progress=False):
        results = []
        for task in tasks:
            res = run_task(task, threads, progress)
            results.append(res)
            if on_done is not None:
                on_done(res)
        return results


def _ray_run_task(task: RunTask, threads: int | None = None) -> dict[str, Any]:
    """:func:`run_task` in a Ray worker, with the id of the node it ran on: on a cluster the driver can then say
    which node trained which folder (the run folder itself records no host, so it stays the same on any node)."""
    import ray

    out = run_task(task, threads)
    out["node"] = ray.get_runtime_context().get_node_id()
    return out


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError(f"executor ray needs Ray, which is not installed; install it with: {RAY_INSTALL}") from None
    return ray


class RayExecutor(Executor):
    """The tasks as Ray tasks (see the module docstring). ``address``: None starts a Ray on this machine (stopped on
    :meth:`close`); 'auto' or host:port joins a running cluster. Each task takes ``cpus_per_task`` CPUs and trains
    with that many torch threads."""

    name = "ray"

    def __init__(self, address: str | None = None, cpus_per_task: int = 1, max_retries: int = 3,
                 num_cpus: int | None = None):
        _token_auth(address)  # before Ray is imported: it reads the mode then
        ray = _import_ray()
        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            kwargs: dict[str, Any] = {"address": address, "log_to_driver": False, "include_dashboard": False}
            if address is None:
                kwargs["num_cpus"] = num_cpus or os.cpu_count()
                del kwargs["address"]
            try:
                ray.init(**kwargs)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ConfigError(f"ray-address: cannot reach a Ray cluster at {address!r} ({str(e).splitlines()[0]})"
                                  ) from None
        self.cpus = cpus_per_task
        # retries are for lost workers (a node gone, a process killed); a task's own errors come back as 'failed'
        self.remote_options = {"num_cpus": cpus_per_task, "max_retries": max_retries, "retry_exceptions": False}
        # named run_task, as the function it wraps: the workers' process titles read ray::run_task
        self.remote = ray.remote(name="run_task", **self.remote_options)(_ray_run_task)

    def map(self, tasks, on_done=None, *, threads=None, progress=False):
        # each task trains with cpus_per_task threads on its worker, silently: the runtime's threads and per-run
        # progress are for training in this process
        ray = self.ray
        refs = [self.remote.remote(task, self.cpus) for task in tasks]
        index = {ref: k for k, ref in enumerate(refs)}
        results: list[dict[str, Any] | None] = [None] * len(refs)
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                res = ray.get(ref)
                results[index[ref]] = res
                log.info("%s: %s on node %s (%.1f s)", res["label"], res["status"], res["node"], res["seconds"])
                if on_done is not None:
                    on_done(res)
        return [r for r in results if r is not None]

    def close(self) -> None:
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()


def _token_auth(address: str | None) -> None:
    """Ray (2.59 and later) starts clusters with token authentication, and ``ray.init`` with an explicit
    host:port only sends the token when ``RAY_AUTH_MODE=token`` is set; set it when a token is at hand (the
    ``RAY_AUTH_TOKEN`` variable or ``ray get-auth-token``'s file) and the user has not chosen a mode."""
    if address in (None, "auto") or "RAY_AUTH_MODE" in os.environ:
        return
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") or \
            (Path.home() / ".ray" / "auth_token").is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


def make_executor(name: str = "local", *, ray_address: str | None = None, cpus_per_task: int = 1) -> Executor:
    """The executor called ``name`` (:data:`EXECUTORS`); ConfigError for an unknown one, or for 'ray' without Ray."""
    if name not in EXECUTORS:
        raise ConfigError(f"executor must be one of {', '.join(EXECUTORS)}, got {name!r}")
    if name == "local":
        if ray_address is not None:
            raise ConfigError("ray-address: only with --executor ray")
        return LocalExecutor()
    return RayExecutor(ray_address, cpus_per_task=cpus_per_task)
