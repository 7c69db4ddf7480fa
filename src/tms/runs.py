"""Run folders: the unit of storage. Everything downstream (figures, claims, report) reads only these.

A run folder holds
- ``config.json``: format tag, package and torch versions, the resolved :class:`RunConfig`, per-instance
  densities and importances, and how it ran (device, engine, seconds);
- ``model.safetensors``: ``W`` float32 ``[inst, hidden, feat]`` and ``b`` float32 ``[inst, feat]``;
- ``instances.csv``: one row per trained model;
- ``train_log.csv``: training loss per instance over training (long format: step, instance, loss).

Folders are written into a temporary sibling and renamed into place, so a reader never sees half a run, and
nothing here unpickles: loading a run never executes code.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import Tensor

from . import __version__
from .config import RunConfig
from .errors import ConfigError, RunFolderError
from .train import TrainResult

FORMAT = "tms-run"
FORMAT_VERSION = 1
FILES = ("config.json", "model.safetensors", "instances.csv", "train_log.csv")
INSTANCE_COLUMNS = ("instance", "setting", "restart", "density", "loss")


@dataclass
class Run:
    """A stored run, loaded. ``instances`` has one dict per model (columns of ``instances.csv``)."""

    path: Path
    config: RunConfig
    W: Tensor
    b: Tensor
    instances: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def loss(self) -> Tensor:
        """Final per-instance loss on fresh samples ``[inst]``."""
        return torch.tensor([row["loss"] for row in self.instances], dtype=torch.float64)

    def setting_instances(self, setting: int) -> list[int]:
        r = self.config.restarts
        return list(range(setting * r, (setting + 1) * r))

    def best_instances(self) -> list[int]:
        """For each setting, the instance (restart) with the lowest final loss."""
        loss = self.loss
        return [min(self.setting_instances(s), key=lambda i: loss[i].item()) for s in range(self.config.n_settings)]

    def train_log(self) -> tuple[list[int], Tensor]:
        """``(steps, losses [len(steps), inst])`` from ``train_log.csv``."""
        return read_train_log(self.path / "train_log.csv", self.config.n_instances)


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path | str, text: str) -> None:
    """Write a text file so that readers see the old file or the new one, never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(path, text)


def atomic_write_json(path: Path | str, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def _uniform(row: tuple[float, ...]) -> float | None:
    return row[0] if all(v == row[0] for v in row) else None


def save_run(path: Path | str, config: RunConfig, result: TrainResult, extra: dict[str, Any] | None = None) -> Path:
    """Write a run folder atomically (temporary sibling, then rename) and return its path."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A writer killed outright (SIGKILL, power loss) can leave its temporary folder; clear those first.
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        dens = config.instance_density()
        imps = config.instance_importance()
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "tms_version": __version__,
            "torch_version": torch.__version__,
            "python_version": platform.python_version(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "config": config.to_dict(),
            "instances": {"density": [list(r) for r in dens], "importance": [list(r) for r in imps]},
            "run": {
                "device": result.device,
                "engine": result.engine,
                "seconds": round(result.seconds, 3),
                "cpu_count": os.cpu_count(),
                "torch_threads": torch.get_num_threads(),
            },
        }
        if extra:
            meta["extra"] = extra
        save_file(
            {"W": result.W.detach().float().contiguous().cpu(), "b": result.b.detach().float().contiguous().cpu()},
            str(tmp / "model.safetensors"),
            metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION)},
        )
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(INSTANCE_COLUMNS)
        for i in range(config.n_instances):
            d = _uniform(dens[i])
            w.writerow([i, i // config.restarts, i % config.restarts, "" if d is None else repr(d),
                        repr(float(result.final_loss[i]))])
        (tmp / "instances.csv").write_text(buf.getvalue(), encoding="utf-8")
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(("step", "instance", "loss"))
        for k, step in enumerate(result.log_steps):
            for i, v in enumerate(result.log_losses[k].tolist()):
                w.writerow((step, i, f"{v:.7g}"))
        (tmp / "train_log.csv").write_text(buf.getvalue(), encoding="utf-8")
        # config.json last: a folder with it is complete even if the rename below were not atomic.
        (tmp / "config.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
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
    cfg = path / "config.json"
    if not cfg.is_file():
        raise _fail(path, "has no config.json; not a tms run folder")
    try:
        meta = json.loads(cfg.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _fail(path, f"config.json is not valid JSON ({e.__class__.__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _fail(path, f"config.json is not a tms run (expected format {FORMAT!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise _fail(path, f"unsupported format_version {meta.get('format_version')!r} (this tms reads {FORMAT_VERSION})")
    return meta


def is_complete_run(path: Path | str, config: RunConfig | None = None) -> bool:
    """True when ``path`` holds a loadable run (and, if given, one trained from exactly ``config``)."""
    try:
        meta = read_meta(path)
        if config is not None and RunConfig.from_dict(meta["config"]) != config:
            return False
        return all((Path(path) / f).is_file() for f in FILES)
    except (RunFolderError, ConfigError, KeyError, TypeError):
        return False


def load_run(path: Path | str) -> Run:
    """Load a run folder written by :func:`save_run`; refuses foreign or corrupt folders with RunFolderError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_meta(path)
    try:
        config = RunConfig.from_dict(meta.get("config"))
    except ConfigError as e:
        raise _fail(path, f"config.json has an invalid config: {e}") from None
    for f in FILES:
        if not (path / f).is_file():
            raise _fail(path, f"{f} is missing")
    try:
        tensors = load_file(str(path / "model.safetensors"))
    except (SafetensorError, OSError, ValueError) as e:
        raise _fail(path, f"model.safetensors is corrupt ({str(e).splitlines()[0][:80]})") from None
    inst, m, n = config.n_instances, config.n_hidden, config.n_features
    W, b = tensors.get("W"), tensors.get("b")
    if W is None or b is None:
        raise _fail(path, "model.safetensors must hold tensors W and b")
    if tuple(W.shape) != (inst, m, n) or tuple(b.shape) != (inst, n):
        raise _fail(path, f"W {tuple(W.shape)} / b {tuple(b.shape)} do not match the config ([{inst}, {m}, {n}] / [{inst}, {n}])")
    if W.dtype != torch.float32 or b.dtype != torch.float32:
        raise _fail(path, "W and b must be float32")
    instances = _read_instances(path, inst)
    return Run(path=path, config=config, W=W, b=b, instances=instances, meta=meta)


def _read_instances(path: Path, n_instances: int) -> list[dict[str, Any]]:
    try:
        with open(path / "instances.csv", encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as e:
        raise _fail(path, f"instances.csv is unreadable ({e.__class__.__name__})") from None
    if len(rows) != n_instances:
        raise _fail(path, f"instances.csv has {len(rows)} rows, expected {n_instances}")
    out = []
    for k, row in enumerate(rows):
        try:
            rec: dict[str, Any] = dict(row)
            rec["instance"] = int(row["instance"])
            rec["setting"] = int(row["setting"])
            rec["restart"] = int(row["restart"])
            rec["density"] = float(row["density"]) if row["density"] else None
            rec["loss"] = float(row["loss"])
        except (KeyError, TypeError, ValueError):
            raise _fail(path, f"instances.csv row {k + 1} is malformed") from None
        if rec["instance"] != k or not math.isfinite(rec["loss"]):
            raise _fail(path, f"instances.csv row {k + 1} is malformed")
        out.append(rec)
    return out


def read_train_log(path: Path, n_instances: int) -> tuple[list[int], Tensor]:
    steps: dict[int, dict[int, float]] = {}
    try:
        with open(path, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                steps.setdefault(int(row["step"]), {})[int(row["instance"])] = float(row["loss"])
    except (KeyError, ValueError, UnicodeDecodeError, csv.Error):
        raise _fail(path.parent, "train_log.csv is malformed") from None
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
    for cfg in sorted(root.rglob("config.json")):
        if any(part.startswith(".") for part in cfg.relative_to(root).parts):
            continue
        try:
            read_meta(cfg.parent)
        except RunFolderError:
            continue
        yield cfg.parent
