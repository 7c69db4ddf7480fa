"""Atomic writes: a reader sees the old file or the new one, never a partial one.

Every file tms writes goes through :func:`atomic_write` (text, JSON, figures) or :func:`atomic_folder` (run
folders): the content goes to a temporary sibling that is renamed into place only once it is complete. An
``OSError`` on the way (no space, no permission, a read-only folder) removes the temporary and becomes an
:class:`~tms.errors.OutputError` naming the path and the cause.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import OutputError

#: The process's umask, read once at import (setting it is the only way to read it portably): temporary files
#: and folders are created private (0600, 0700), and get the permissions an ordinary write would give them
#: before they are renamed into place.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _mkdir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError.of(folder, e) from None


def atomic_write(path: Path | str, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, then rename it to ``path``."""
    path = Path(path)
    _mkdir(path.parent)
    tmp: Path | None = None
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(name)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise OutputError.of(path, e) from None
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path | str, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8", newline=""))


def atomic_write_json(path: Path | str, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=False, default=_mapping) + "\n")


def _mapping(obj: Any) -> Any:
    """JSON for a read-only mapping that is not a dict (a table row, :class:`tms.tables.Row`)."""
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"{obj.__class__.__name__} is not JSON serializable")


@contextlib.contextmanager
def atomic_folder(path: Path | str) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on a clean exit it replaces ``path`` (an old folder of
    that name is moved aside first and removed after). Temporary folders left by a writer killed outright
    (SIGKILL, power loss) are cleared first."""
    path = Path(path)
    _mkdir(path.parent)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    try:
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    except OSError as e:
        raise OutputError.of(path, e) from None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except (OSError, OutputError) as e:  # named by the folder being written, not its temporary
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError.of(path, e) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
