"""Training a run folder: bring a folder to a config (train it, evaluate it again, or leave it as it is), and
remember a training that diverged so that it is not tried again.

This is the one place that joins storage (:mod:`tms.runs`) and the trainer (:mod:`tms.train`): storage stays
importable without the engines (reading results never loads them), and every sweep trains its folders through
:func:`train_folder`, whoever runs it (:mod:`tms.executors`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from ._version import __version__
from .config import RunConfig
from .engines import get_engine
from .errors import ConfigError, RunFolderError, TrainingError
from .files import atomic_write_json
from .layout import DIVERGED_SUFFIX, SNAPSHOTS_FILE
from .runs import load_run, run_state, save_run
from .train import TrainResult, evaluate, resolve_device, train


_REDRAWING: ContextVar[bool] = ContextVar("tms_redrawing", default=False)


@contextmanager
def redrawing() -> Iterator[None]:
    """Within it, analyses only read what was trained (``tms plot``): :func:`refuse_training` raises."""
    token = _REDRAWING.set(True)
    try:
        yield
    finally:
        _REDRAWING.reset(token)


def refuse_training(what: Path | str) -> None:
    """RunFolderError, when redrawing, for an analysis about to train ``what`` (an SAE folder that is missing or
    incomplete for the settings the analysis sees): a redraw never trains, nor replaces what was trained."""
    if _REDRAWING.get():
        raise RunFolderError(f"{what}: not trained for these settings (missing, or trained with others); tms plot "
                             "only draws what was trained: run tms reproduce with the settings it was made with")


def diverged_record(path: Path | str) -> Path:
    """Where the divergence of the run that belongs at ``path`` is recorded: ``<folder>.diverged.json`` beside it."""
    path = Path(path)
    return path.with_name(path.name + DIVERGED_SUFFIX)


def _divergence_key(config: RunConfig, device: str, engine: str) -> dict[str, Any]:
    return {"format": "tms-diverged", "tms_version": __version__, "config": config.training_key(),
            "device": resolve_device(device).type, "engine": get_engine(engine, config.model, config.data).name}


def recorded_divergence(path: Path | str, config: RunConfig, device: str = "auto", engine: str = "auto"
                        ) -> str | None:
    """The reason recorded when this very run (same training key, tms version, device and engine) diverged at
    ``path`` before, or None (no record, a record of another run, or one that does not parse)."""
    record = diverged_record(path)
    try:
        data = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("error"), str):
        return None
    key = _divergence_key(config, device, engine)
    return data["error"] if all(data.get(k) == v for k, v in key.items()) else None


def train_folder(path: Path | str, config: RunConfig, snapshots: list[int] | None = None, *,
                 extra: dict[str, Any] | None = None, device: str = "auto", engine: str = "auto",
                 threads: int | None = None, progress: bool = False) -> tuple[str, float]:
    """Bring the run folder ``path`` to ``config`` and return ``(status, seconds)``: 'skipped' (complete already),
    'evaluated' (trained from it, evaluated again) or 'trained'.

    A training that diverges raises TrainingError and leaves a record beside the folder
    (:func:`diverged_record`); the same run on the same device and engine is then refused at once with that
    reason instead of trained again (the same seed diverges the same way). Delete the record to train it anyway;
    training it successfully (another config, another version of tms) removes it."""
    path = Path(path)
    state = run_state(path, config, snapshots)
    if state == "complete":
        return "skipped", 0.0
    if state == "evaluate":
        t0 = time.perf_counter()
        reevaluate(path, config, device)
        return "evaluated", time.perf_counter() - t0
    recorded = recorded_divergence(path, config, device, engine)
    if recorded is not None:
        raise TrainingError(f"{recorded} (recorded in {diverged_record(path)}; delete it to train again)")
    try:
        result = train(config, device=device, engine=engine, threads=threads, snapshots=snapshots or None,
                       progress=progress)
    except TrainingError as e:
        atomic_write_json(diverged_record(path), {**_divergence_key(config, device, engine), "error": str(e),
                                                  "created": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        raise
    save_run(path, config, result, extra=extra)
    diverged_record(path).unlink(missing_ok=True)
    return "trained", result.seconds


def reevaluate(path: Path | str, config: RunConfig, device: str = "auto") -> Path:
    """Evaluate a stored run again with ``config``'s evaluation (same training key), without retraining, and
    store it with ``config``."""
    run = load_run(path)
    if run.config.training_key() != config.training_key():
        raise ConfigError(f"run folder {path} was trained from another config; it cannot be re-evaluated as this one")
    # the stored log keeps its interval
    config = dataclasses.replace(config, recipe=dataclasses.replace(config.recipe, log_every=run.config.recipe.log_every))
    steps, losses = run.train_log()
    snaps = run.snapshots if (Path(path) / SNAPSHOTS_FILE).is_file() else None
    meta_run = run.meta.get("run", {})
    result = TrainResult(
        params=run.params, final_loss=evaluate(config, run.params, resolve_device(device)), log_steps=steps,
        log_losses=losses, seconds=float(meta_run.get("seconds", 0.0)), device=str(meta_run.get("device", "?")),
        engine=str(meta_run.get("engine", "?")), snapshot_steps=snaps.steps if snaps else [],
        snapshots=snaps.params if snaps else {}, threads=int(meta_run.get("torch_threads") or 1), config=config,
    )
    return save_run(path, config, result, extra=run.meta.get("extra"))
