"""Run folders: the unit of storage. Everything downstream (analysis, figures, claims, report) reads only these.

A run folder holds (names in :mod:`tms.layout`)
- ``config.json``: format tag, package and torch versions, the resolved :class:`RunConfig`, per-instance
  densities and importances, and how it ran (device, engine, threads, seconds);
- ``model.safetensors``: the model family's parameters by name, float32 with a leading instance axis
  (``W [inst, hidden, feat]`` and ``b [inst, feat]`` for the tied families);
- ``instances.csv``: one row per trained model (setting, restart, density, final loss);
- ``train_log.csv``: training loss per instance over training (long format: step, instance, loss);
- ``snapshots.safetensors`` (when trained with snapshots): ``steps`` and every parameter at those steps,
  ``[len(steps), inst, ...]``.

Folders are written into a temporary sibling and renamed into place (:func:`tms.files.atomic_folder`), so a
reader never sees half a run, and nothing here unpickles: loading a run never executes code.

This module is storage only (write, read, check, and how a stored run stands against a config); training a folder
is :mod:`tms.folders`'. Importing it, or loading a run, never imports the trainer or the engines.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import torch
from torch import Tensor

from ._version import __version__
from .config import RunConfig
from .errors import ConfigError, RunFolderError
from .files import atomic_folder
from .layout import (
    CONFIG_FILE,
    INSTANCES_FILE,
    MODEL_FILE,
    RUN_FILES,
    SNAPSHOTS_FILE,
    TRAIN_LOG_FILE,
)
from .model import Params, get_family
from .results import Block, Results
from .tables import Column, Schema

if TYPE_CHECKING:  # only a type here: loading a run never imports the trainer or the engines
    from .train import TrainResult

FORMAT = "tms-run"
FORMAT_VERSION = 2
READS = (1, 2)
"""Format versions this tms reads: 1 (W and b, ``activation`` in the config) and 2 (any family's parameters,
``model`` and ``data`` in the config, optional snapshots)."""

INSTANCES = Schema(INSTANCES_FILE, (
    Column("instance", "int"), Column("setting", "int"), Column("restart", "int"),
    Column("density", "float", "the setting's density when every feature shares it, else empty"),
    Column("loss", "float", "final loss on fresh samples"),
))
TRAIN_LOG = Schema(TRAIN_LOG_FILE, (Column("step", "int"), Column("instance", "int"), Column("loss", "float32")))
TRAIN_TEST_LOG = TRAIN_LOG.extend(TRAIN_LOG_FILE, Column("test_loss", "float32", "loss on a fixed batch of fresh draws "
                                                         "after the step (finite datasets only)"))
"""``train_log.csv`` of a run on a finite dataset (:attr:`tms.config.RunConfig.train_size`): the test loss beside
the training loss."""


@dataclass
class Snapshots:
    """Parameters over training: ``params[name][k]`` is the parameter at step ``steps[k]``."""

    steps: list[int]
    params: Params

    def at(self, step: int) -> Params:
        """The parameters at a stored step (RunFolderError naming the stored steps otherwise)."""
        if step not in self.steps:
            shown = self.steps if len(self.steps) <= 8 else [*self.steps[:4], "…", *self.steps[-2:]]
            raise RunFolderError(f"no snapshot at step {step}; stored steps: {', '.join(map(str, shown))} "
                                 f"({len(self.steps)} in all)")
        k = self.steps.index(step)
        return {name: value[k] for name, value in self.params.items()}


@dataclass(repr=False)
class Run(Results):
    """A stored run, loaded. ``instances`` has one dict per model (columns of ``instances.csv``). Its models'
    names, selections and measures are :class:`~tms.results.Results`' (``.sel``, ``.best``, ``.table``, ...), as
    a fresh :class:`~tms.train.TrainResult`'s."""

    path: Path
    config: RunConfig
    params: Params
    instances: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def loss(self) -> Tensor:
        """Final per-instance loss on fresh samples ``[inst]`` (the mean over features; the paper sums them)."""
        return torch.tensor([row["loss"] for row in self.instances], dtype=torch.float64)

    @property
    def final_loss(self) -> Tensor:
        """:attr:`loss`, as a :class:`~tms.train.TrainResult` names it."""
        return self.loss

    def _blocks(self) -> list[Block]:
        folder = None if self.step is not None else Path(self.path).resolve()  # a snapshot is not what it holds
        return [Block.whole(self.config, self.params, self.loss, folder=folder)]

    def setting_instances(self, setting: int) -> list[int]:
        r = self.config.restarts
        return list(range(setting * r, (setting + 1) * r))

    def best_instances(self) -> list[int]:
        """For each setting, the instance (restart) with the lowest final loss."""
        loss = self.loss
        return [min(self.setting_instances(s), key=lambda i: loss[i].item()) for s in range(self.config.n_settings)]

    def train_log(self) -> tuple[list[int], Tensor]:
        """``(steps, losses [len(steps), inst])`` from ``train_log.csv``."""
        return read_train_log(self.path, self.config.n_instances)

    def test_log(self) -> tuple[list[int], Tensor]:
        """``(steps, test losses [len(steps), inst])`` of a run on a finite dataset (the loss on a fixed batch of
        fresh draws after each logged step)."""
        return read_train_log(self.path, self.config.n_instances, "test_loss")

    @cached_property
    def snapshots(self) -> Snapshots:
        """The stored training snapshots (RunFolderError when the run was trained without them)."""
        return load_snapshots(self.path, self.config)

    @property
    def step(self) -> int | None:
        """The training step this run's parameters are from (None: the end of training)."""
        return self.meta.get("at_step")

    def at_step(self, step: int) -> "Run":
        """This run as it was after ``step`` training steps, from its snapshots: the parameters stored at that
        step, each instance's loss measured again on the run's evaluation batches (as the final loss was).
        RunFolderError when the run has no snapshot at that step."""
        from .train import evaluate

        try:
            params = self.snapshots.at(step)
        except RunFolderError as e:
            if str(e).startswith("no snapshot"):
                raise _fail(self.path, str(e)) from None
            raise
        loss = evaluate(self.config, params, torch.device("cpu"))
        instances = [dict(row, loss=float(v)) for row, v in zip(self.instances, loss.tolist())]
        return Run(path=self.path, config=self.config, params=params, instances=instances,
                   meta=dict(self.meta, at_step=step))


def _uniform(row: tuple[float, ...]) -> float | None:
    return row[0] if all(v == row[0] for v in row) else None


def _save_tensors(path: Path, tensors: dict[str, Tensor], metadata: dict[str, str]) -> None:
    """Write ``tensors`` to the safetensors file ``path``: the same tensors and metadata give the same bytes.

    safetensors keeps a header's metadata in a Rust HashMap, whose iteration order changes from one save to the
    next (each map gets its own hash seed), so ``save_file(..., metadata=...)`` writes one run in different
    bytes from save to save. Its tensor entries come in a fixed order (alignment, then name), so the library
    writes the file without metadata and the header is written again here with the metadata's keys sorted; the
    data section is copied unchanged (its offsets are relative to the end of the header)."""
    from safetensors.torch import save_file

    raw = path.with_name(f".{path.name}.raw")
    save_file(tensors, str(raw))
    with raw.open("rb") as src, path.open("wb") as dst:
        (size,) = struct.unpack("<Q", src.read(8))
        entries = json.loads(src.read(size))
        entries.pop("__metadata__", None)
        header = json.dumps({"__metadata__": dict(sorted(metadata.items())), **entries},
                            separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        header += b" " * (-len(header) % 8)  # as safetensors pads it: the data starts 8-byte aligned
        dst.write(struct.pack("<Q", len(header)) + header)
        shutil.copyfileobj(src, dst)
    raw.unlink()


def save_run(path: Path | str, config: RunConfig, result: TrainResult, extra: dict[str, Any] | None = None) -> Path:
    """Write a run folder atomically (temporary sibling, then rename) and return its path. The same run gives
    the same bytes in every file but ``config.json``'s ``created`` and ``run.seconds`` (wall-clock time)."""
    path = Path(path)
    dens = config.instance_density()
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tms_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": config.to_dict(),
        "instances": {"density": [list(r) for r in dens], "importance": [list(r) for r in config.instance_importance()]},
        "run": {
            "device": result.device,
            "engine": result.engine,
            "seconds": round(result.seconds, 3),
            "cpu_count": os.cpu_count(),
            "torch_threads": result.threads,
        },
    }
    if result.snapshot_steps:
        meta["snapshot_steps"] = list(result.snapshot_steps)
    if extra:
        meta["extra"] = extra
    with atomic_folder(path) as tmp:
        tensor_meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
        _save_tensors(tmp / MODEL_FILE,
                      {k: v.detach().float().contiguous().cpu() for k, v in result.params.items()}, tensor_meta)
        if result.snapshot_steps:
            tensors = {"steps": torch.tensor(result.snapshot_steps, dtype=torch.int64)}
            tensors.update({k: v.detach().float().contiguous().cpu() for k, v in result.snapshots.items()})
            _save_tensors(tmp / SNAPSHOTS_FILE, tensors, tensor_meta)
        INSTANCES.write(tmp, ({"instance": i, "setting": i // config.restarts, "restart": i % config.restarts,
                               "density": _uniform(dens[i]), "loss": float(result.final_loss[i])}
                              for i in range(config.n_instances)))
        if result.log_test_losses is None:
            TRAIN_LOG.write(tmp, ({"step": step, "instance": i, "loss": v}
                                  for k, step in enumerate(result.log_steps)
                                  for i, v in enumerate(result.log_losses[k].tolist())))
        else:
            TRAIN_TEST_LOG.write(tmp, ({"step": step, "instance": i, "loss": v, "test_loss": t}
                                       for k, step in enumerate(result.log_steps)
                                       for i, (v, t) in enumerate(zip(result.log_losses[k].tolist(),
                                                                      result.log_test_losses[k].tolist()))))
        # config.json last: a folder with it is complete even if the rename were not atomic.
        (tmp / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return path


def _fail(path: Path, why: str) -> RunFolderError:
    return RunFolderError(f"run folder {path}: {why}")


def read_meta(path: Path | str) -> dict[str, Any]:
    """Parse and check ``config.json`` of a run folder (cheap: no weights are read)."""
    path = Path(path)
    if not path.exists():
        raise _fail(path, "does not exist")
    if not path.is_dir():
        raise _fail(path, "is not a folder")
    cfg = path / CONFIG_FILE
    if not cfg.is_file():
        raise _fail(path, f"has no {CONFIG_FILE}; not a tms run folder")
    try:
        meta = json.loads(cfg.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _fail(path, f"{CONFIG_FILE} is not valid JSON ({e.__class__.__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _fail(path, f"{CONFIG_FILE} is not a tms run (expected format {FORMAT!r})")
    if meta.get("format_version") not in READS:
        raise _fail(path, f"unsupported format_version {meta.get('format_version')!r} (this tms reads "
                          f"{', '.join(map(str, READS))})")
    return meta


def read_config(path: Path | str) -> RunConfig:
    """A run folder's config (cheap: no weights are read); RunFolderError when it is not a valid one."""
    try:
        return RunConfig.from_dict(read_meta(path).get("config"))
    except ConfigError as e:
        raise _fail(Path(path), f"{CONFIG_FILE} has an invalid config: {e}") from None


def run_state(path: Path | str, config: RunConfig, snapshots: list[int] | None = None) -> str:
    """How a stored run stands against ``config``: 'complete' (trained from it: same training key, same
    evaluation, the snapshots asked for), 'evaluate' (trained from it, but evaluated on another number of
    batches: evaluate again, do not retrain) or 'train' (missing, incomplete, or trained from another config).
    How often the loss was logged never matters (:meth:`RunConfig.training_key`)."""
    path = Path(path)
    try:
        meta = read_meta(path)
        stored = RunConfig.from_dict(meta["config"])
        if not all((path / f).is_file() for f in RUN_FILES):
            return "train"
    except (RunFolderError, ConfigError, KeyError, TypeError):
        return "train"
    if stored.training_key() != config.training_key():
        return "train"
    if snapshots and not set(snapshots) <= set(meta.get("snapshot_steps") or []):
        return "train"
    return "complete" if stored.recipe.eval_batches == config.recipe.eval_batches else "evaluate"


def is_complete_run(path: Path | str, config: RunConfig | None = None) -> bool:
    """True when ``path`` holds a loadable run (and, if given, one trained from ``config``: see
    :func:`run_state`)."""
    if config is not None:
        return run_state(path, config) == "complete"
    try:
        read_config(path)
    except RunFolderError:
        return False
    return all((Path(path) / f).is_file() for f in RUN_FILES)


def _load_tensors(path: Path, file: str) -> dict[str, Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path / file))
    except (SafetensorError, OSError, ValueError) as e:
        raise _fail(path, f"{file} is corrupt ({str(e).splitlines()[0][:80]})") from None


def _check_params(path: Path, config: RunConfig, tensors: dict[str, Tensor], lead: tuple[int, ...] = (),
                  file: str = MODEL_FILE) -> Params:
    shapes = get_family(config.model).shapes(config.n_instances, config.n_hidden, config.n_features)
    missing = [k for k in shapes if k not in tensors]
    if missing:
        raise _fail(path, f"{file} must hold the tensors {', '.join(shapes)} (model {config.model}); "
                          f"missing {', '.join(missing)}")
    out = {}
    for k, shape in shapes.items():
        t = tensors[k]
        if tuple(t.shape) != lead + shape:
            raise _fail(path, f"{k} {tuple(t.shape)} in {file} does not match the config ({list(lead + shape)})")
        if t.dtype != torch.float32:
            raise _fail(path, f"{k} in {file} must be float32")
        out[k] = t
    return out


def load_run(path: Path | str) -> Run:
    """Load a run folder written by :func:`save_run`; refuses foreign or corrupt folders with RunFolderError."""
    path = Path(path)
    meta = read_meta(path)
    config = read_config(path)
    for f in RUN_FILES:
        if not (path / f).is_file():
            raise _fail(path, f"{f} is missing")
    params = _check_params(path, config, _load_tensors(path, MODEL_FILE))
    instances = _read_instances(path, config.n_instances)
    return Run(path=path, config=config, params=params, instances=instances, meta=meta)


def check_run(path: Path | str) -> RunConfig:
    """Check a run folder without reading its weights: config.json, every file present, the tensors' names,
    shapes and types from the safetensors header, instances.csv. Its config, or RunFolderError naming what is
    wrong."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    config = read_config(path)
    for f in RUN_FILES:
        if not (path / f).is_file():
            raise _fail(path, f"{f} is missing")
    shapes = get_family(config.model).shapes(config.n_instances, config.n_hidden, config.n_features)
    try:
        with safe_open(str(path / MODEL_FILE), framework="pt") as f:
            stored = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
            dtypes = {k: f.get_slice(k).get_dtype() for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise _fail(path, f"{MODEL_FILE} is corrupt ({str(e).splitlines()[0][:80]})") from None
    for k, shape in shapes.items():
        if stored.get(k) != shape or dtypes.get(k) != "F32":
            raise _fail(path, f"{MODEL_FILE} must hold {k} as float32 {list(shape)}, holds "
                              f"{list(stored[k]) if k in stored else 'nothing'}")
    _read_instances(path, config.n_instances)
    return config


def load_snapshots(path: Path | str, config: RunConfig) -> Snapshots:
    path = Path(path)
    if not (path / SNAPSHOTS_FILE).is_file():
        raise _fail(path, f"has no {SNAPSHOTS_FILE}: it was trained without snapshots")
    tensors = _load_tensors(path, SNAPSHOTS_FILE)
    steps = tensors.pop("steps", None)
    if steps is None or steps.ndim != 1 or steps.dtype != torch.int64:
        raise _fail(path, f"{SNAPSHOTS_FILE} must hold an int64 vector 'steps'")
    values = _check_params(path, config, tensors, lead=(steps.numel(),), file=SNAPSHOTS_FILE)
    return Snapshots(steps=steps.tolist(), params=values)


def _read_instances(path: Path, n_instances: int) -> list[dict[str, Any]]:
    try:
        rows = INSTANCES.read(path)
    except RunFolderError as e:
        raise _fail(path, f"{INSTANCES_FILE} is malformed ({e})") from None
    if len(rows) != n_instances:
        raise _fail(path, f"{INSTANCES_FILE} has {len(rows)} rows, expected {n_instances}")
    for k, row in enumerate(rows):
        if row["instance"] != k or row["loss"] is None or not math.isfinite(row["loss"]):
            raise _fail(path, f"{INSTANCES_FILE} row {k + 1} is malformed")
    return rows


def read_train_log(path: Path | str, n_instances: int, column: str = "loss") -> tuple[list[int], Tensor]:
    """``(steps, values [len(steps), inst])`` of ``train_log.csv``'s ``column``: 'loss' (training) or, for a run on
    a finite dataset, 'test_loss'."""
    path = Path(path)
    rows = None
    for schema in (TRAIN_LOG, TRAIN_TEST_LOG):
        try:
            rows = schema.read(path)
            break
        except RunFolderError:
            continue
    if rows is None:
        raise _fail(path, f"{TRAIN_LOG_FILE} is malformed")
    if rows and column not in rows[0].columns:
        raise _fail(path, f"{TRAIN_LOG_FILE} has no column {column} (a run without a finite dataset)")
    steps: dict[int, dict[int, float]] = {}
    for row in rows:
        steps.setdefault(row["step"], {})[row["instance"]] = row[column]
    order = sorted(steps)
    out = torch.full((len(order), n_instances), float("nan"))
    for k, s in enumerate(order):
        for i, v in steps[s].items():
            if 0 <= i < n_instances:
                out[k, i] = v
    return order, out


def iter_runs(root: Path | str) -> Iterator[Path]:
    """Every run folder (a folder with a tms config.json) at or below ``root``."""
    root = Path(root)
    for cfg in sorted(root.rglob(CONFIG_FILE)):
        if any(part.startswith(".") for part in cfg.relative_to(root).parts):
            continue
        try:
            read_meta(cfg.parent)
        except RunFolderError:
            continue
        yield cfg.parent


def prepare_output(out: Path | str, config: RunConfig, force: bool = False) -> str:
    """The overwrite policy of a run folder that is about to be trained into: 'complete' when ``out`` already
    holds this run (nothing to do), 'evaluate' when it holds it evaluated otherwise, 'train' when training may
    go ahead (``out`` missing, empty, or ``force``). ConfigError when ``out`` holds another run or files that
    are not a run (without ``force``), or is not a folder."""
    out = Path(out)
    if not out.exists():
        return "train"
    state = run_state(out, config)
    if state != "train":
        return state
    if not out.is_dir():
        raise ConfigError(f"out {out} exists and is not a folder")
    if any(out.iterdir()) and not force:
        try:
            read_meta(out)
            what = "a run of another config"
        except RunFolderError:
            what = "files that are not a tms run"
        raise ConfigError(f"out {out} already holds {what}; pass --force to replace it or choose another --out")
    return "train"
