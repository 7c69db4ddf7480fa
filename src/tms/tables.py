"""Derived tables: typed columns, one number format, atomic writes, and a reader that refuses a bad file.

A :class:`Schema` names a table's columns and their types. :meth:`Schema.write` writes CSV atomically with
every float as its shortest exact decimal (``repr``: it reads back to the same float, so a stage that reads a
table computes with exactly the numbers the stage before it wrote); :meth:`Schema.read` parses it back and
refuses a file that is not that table, with one line naming the file, the line and the column.

Rows read back are typed and frozen: each schema has its own row class (:meth:`Schema.row_type`, a frozen
dataclass whose fields are the columns, typed by their kind), read by attribute (``row.density``) or as a
mapping (``row["density"]``, ``dict(row)``); a column the table does not have is an error naming the table and
its columns, never a silent ``None``.
"""

from __future__ import annotations

import csv
import io
import keyword
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, make_dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator, Mapping, Optional

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
        if not self.name.isidentifier() or keyword.iskeyword(self.name) or self.name in ("table", "columns", "get"):
            raise ValueError(f"column name must be a Python identifier (rows read it as an attribute) other than "
                             f"a keyword, 'table', 'columns' or 'get', got {self.name!r}")


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


_PY_TYPE = {"int": int, "float": float, "float32": float, "bool": bool, "str": str}


class Row(MappingABC):
    """A row read from a table: frozen, its columns as typed attributes, and a read-only mapping of column to
    value. Subclassed per schema by :meth:`Schema.row_type`."""

    __slots__ = ()
    table: ClassVar[str] = ""
    columns: ClassVar[tuple[str, ...]] = ()

    def __getitem__(self, name: str) -> Any:
        if name not in self.columns:
            raise KeyError(f"table {self.table} has no column {name!r}; its columns: {', '.join(self.columns)}")
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def __getattr__(self, name: str) -> Any:  # only reached for a name that is not a column
        if name.startswith("__"):
            raise AttributeError(name)  # copy, pickle and friends probe dunders
        raise AttributeError(f"table {self.table} has no column {name!r}; its columns: {', '.join(self.columns)}")

    def get(self, name: str, default: Any = None) -> Any:
        """The column's value; a name that is not a column is an error here too, never a silent default."""
        return self[name]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MappingABC):
            return dict(self) == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self):  # rows travel to other processes: rebuilt from their table's columns
        return (_rebuild, (self.table, _COLUMNS[(self.table, self.columns)], tuple(getattr(self, c) for c in self.columns)))


_COLUMNS: dict[tuple[str, tuple[str, ...]], tuple["Column", ...]] = {}


def _rebuild(file: str, columns: tuple["Column", ...], values: tuple[Any, ...]) -> Row:
    return _row_type(file, columns)(*values)


@lru_cache(maxsize=None)
def _row_type(file: str, columns: tuple["Column", ...]) -> type[Row]:
    stem = "".join(part.capitalize() for part in Path(file).stem.replace("-", "_").replace(".", "_").split("_"))
    cls = make_dataclass(f"{stem}Row", [(c.name, Optional[_PY_TYPE[c.kind]]) for c in columns], bases=(Row,),
                         frozen=True, slots=True, eq=False)
    cls.table, cls.columns = file, tuple(c.name for c in columns)
    _COLUMNS[(file, cls.columns)] = columns
    cls.__doc__ = f"A row of {file}."
    return cls


@dataclass(frozen=True)
class Schema:
    """A table: its file name and typed columns."""

    file: str
    columns: tuple[Column, ...]
    doc: str = ""

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def row_type(self) -> type[Row]:
        """The frozen, typed row class of this table (one per file name and columns)."""
        return _row_type(self.file, self.columns)

    def row(self, **values: Any) -> Row:
        """A row of this table from its column values (every column, nothing else: TypeError names the rest)."""
        return self.row_type(**values)

    def check_columns(self, names: Iterable[str]) -> None:
        """KeyError naming the table and its columns for a name that is not one of them."""
        wrong = [n for n in names if n not in self.names]
        if wrong:
            raise KeyError(f"table {self.file} has no column {wrong[0]!r}; its columns: {', '.join(self.names)}")

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

    def read(self, folder: Path | str) -> list[Row]:
        """The rows of ``folder/<file>``, typed and frozen (:attr:`row_type`); RunFolderError naming the problem
        for a missing or bad file."""
        path = Path(folder) / self.file
        try:
            with open(path, encoding="utf-8", newline="") as f:
                reader = csv.reader(f)
                header = next(reader, None)
                if header != self.names:
                    raise RunFolderError(f"table {path}: not a {self.file} table (expected the columns "
                                         f"{', '.join(self.names)})")
                rows = []
                make = self.row_type
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
                    rows.append(make(**row))
                return rows
        except FileNotFoundError:
            raise RunFolderError(f"table {path} does not exist; run the analysis (tms reproduce or tms plot) "
                                 "first") from None
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise RunFolderError(f"table {path} is unreadable ({e.__class__.__name__})") from None


_KIND_TEXT = {"int": "an integer", "float": "a number", "float32": "a number", "bool": "0 or 1", "str": "text"}
