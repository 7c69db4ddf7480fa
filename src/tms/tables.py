"""Derived tables: typed columns, one number format, atomic writes, and a reader that refuses a bad file.

A :class:`Schema` names a table's columns and their types. :meth:`Schema.write` writes CSV atomically with
every float as its shortest exact decimal (``repr``: it reads back to the same float, so a stage that reads a
table computes with exactly the numbers the stage before it wrote); :meth:`Schema.read` parses it back and
refuses a file that is not that table, with one line naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from .errors import RunFolderError
from .files import atomic_write_text

KINDS = ("int", "float", "float32", "str", "bool")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "float"
    """'int', 'float' (NaN and ±inf allowed), 'float32' (a float32 value, written as the shortest decimal that
    reads back to it), 'str' or 'bool' (written 0/1). An empty int, float or bool cell is None (as None is written)."""
    doc: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column kind must be one of {KINDS}, got {self.kind!r}")


def _float(v: Any) -> str:
    return "" if v is None else repr(float(v))  # shortest exact decimal; 'nan', 'inf', '-inf' as such


def _float32(v: Any) -> str:
    return "" if v is None else str(np.float32(v))  # shortest decimal that reads back to the same float32


_FORMAT = {
    "float": _float,
    "float32": _float32,
    "int": lambda v: "" if v is None else str(int(v)),
    "bool": lambda v: "" if v is None else ("1" if v else "0"),
    "str": lambda v: "" if v is None else str(v),
}


def _parse(text: str, kind: str) -> Any:
    if kind == "str":
        return text
    if text == "" and kind in ("int", "float", "float32", "bool"):
        return None
    if kind in ("float", "float32"):
        return float(text)
    if kind == "int":
        return int(text)
    if text not in ("0", "1"):
        raise ValueError(text)
    return text == "1"


@dataclass(frozen=True)
class Schema:
    """A table: its file name and typed columns."""

    file: str
    columns: tuple[Column, ...]
    doc: str = ""

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def extend(self, file: str, *columns: Column, doc: str = "") -> "Schema":
        """Another table with these columns plus more."""
        return Schema(file, self.columns + tuple(columns), doc or self.doc)

    def text(self, rows: Iterable[Mapping[str, Any]]) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.names)
        columns = [(c.name, _FORMAT[c.kind]) for c in self.columns]
        for row in rows:
            try:
                w.writerow([fmt(row[name]) for name, fmt in columns])
            except KeyError:
                missing = [c.name for c in self.columns if c.name not in row]
                raise ValueError(f"table {self.file}: row lacks column(s) {', '.join(missing)}") from None
        return buf.getvalue()

    def write(self, folder: Path | str, rows: Iterable[Mapping[str, Any]]) -> Path:
        """Write ``folder/<file>`` atomically; returns its path."""
        return atomic_write_text(Path(folder) / self.file, self.text(rows))

    def read(self, folder: Path | str) -> list[dict[str, Any]]:
        """The rows of ``folder/<file>``, typed; RunFolderError naming the problem for a missing or bad file."""
        path = Path(folder) / self.file
        try:
            with open(path, encoding="utf-8", newline="") as f:
                reader = csv.reader(f)
                header = next(reader, None)
                if header != self.names:
                    raise RunFolderError(f"table {path}: not a {self.file} table (expected the columns "
                                         f"{', '.join(self.names)})")
                rows = []
                for line, cells in enumerate(reader, start=2):
                    if len(cells) != len(self.columns):
                        raise RunFolderError(f"table {path} line {line}: {len(cells)} cells, expected "
                                             f"{len(self.columns)}")
                    row = {}
                    for col, text in zip(self.columns, cells):
                        try:
                            row[col.name] = _parse(text, col.kind)
                        except ValueError:
                            raise RunFolderError(f"table {path} line {line}: column {col.name} must be "
                                                 f"{_KIND_TEXT[col.kind]}, got {text!r}") from None
                    rows.append(row)
                return rows
        except FileNotFoundError:
            raise RunFolderError(f"table {path} does not exist; run the analysis (tms reproduce or tms plot) "
                                 "first") from None
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise RunFolderError(f"table {path} is unreadable ({e.__class__.__name__})") from None


_KIND_TEXT = {"int": "an integer", "float": "a number", "float32": "a number", "bool": "0 or 1", "str": "text"}
