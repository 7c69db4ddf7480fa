"""A misspelt column fails here, in seconds, not in the slow suite: every ``row["column"]`` (and ``row.column``,
``.rows(S, column=...)``) that the sections and the library read from a table is checked statically against the
schema the row came from, and reading one at run time names the table and its columns."""

from __future__ import annotations

import ast
import importlib
import textwrap
from pathlib import Path

import pytest

from tms.tables import Column, Schema

SRC = Path(__file__).resolve().parent.parent / "src" / "tms"
ROW_METHODS = {"read", "rows"}
KEYED = {"sorted", "min", "max"}


class Checker(ast.NodeVisitor):
    """Follows rows from ``x.read(S)`` / ``x.rows(S, ...)`` through names, loops, comprehensions, ``sorted``,
    ``next``, indexing and helper functions of the module, and checks every column read from them."""

    def __init__(self, schemas: dict[str, Schema], returns: dict[str, Schema] | None = None):
        self.schemas = schemas
        self.returns = returns or {}  # module function -> the schema of the rows it returns
        self.rows: dict[str, Schema] = {}  # names bound to a list of rows
        self.row: dict[str, Schema] = {}  # names bound to one row
        self.checked = 0
        self.wrong: list[str] = []

    def rows_of(self, node: ast.AST) -> Schema | None:
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr in ROW_METHODS and node.args:
                schema = self.schemas.get(getattr(node.args[0], "id", None))
                if schema is not None and f.attr == "rows":
                    self.check(schema, [k.arg for k in node.keywords if k.arg], node)
                return schema
            if isinstance(f, ast.Name) and f.id in ("sorted", "list", "reversed") and node.args:
                return self.rows_of(node.args[0])
            if isinstance(f, ast.Name) and f.id in self.returns:
                return self.returns[f.id]
        if isinstance(node, ast.Name):
            return self.rows.get(node.id)
        if isinstance(node, (ast.ListComp, ast.GeneratorExp)) and isinstance(node.elt, ast.Name):
            self.bind_generators(node.generators)
            return self.row.get(node.elt.id)
        return None

    def row_of(self, node: ast.AST) -> Schema | None:
        if isinstance(node, ast.Name):
            return self.row.get(node.id)
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int):
            return self.rows_of(node.value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("next", "min", "max"):
            if node.args:
                return self.rows_of(node.args[0])
        return None

    def bind(self, target: ast.AST, schema: Schema | None) -> None:
        """A loop target names a row of ``schema``; any other binding of those names forgets what they were."""
        for n in ast.walk(target):
            if isinstance(n, ast.Name):
                self.row.pop(n.id, None)
                self.rows.pop(n.id, None)
        if schema is not None and isinstance(target, ast.Name):
            self.row[target.id] = schema

    def bind_generators(self, generators: list[ast.comprehension]) -> None:
        for gen in generators:
            self.bind(gen.target, self.rows_of(gen.iter))

    def check(self, schema: Schema, names: list[str], node: ast.AST) -> None:
        for name in names:
            self.checked += 1
            if name not in schema.names:
                self.wrong.append(f"line {node.lineno}: {schema.file} has no column {name!r}")

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            rows, row = self.rows_of(node.value), self.row_of(node.value)
            self.bind(node.targets[0], None)
            if rows is not None:
                self.rows[name] = rows
            if row is not None:
                self.row[name] = row

    def visit_For(self, node: ast.For) -> None:
        self.bind(node.target, self.rows_of(node.iter))
        self.generic_visit(node)

    def _comprehension(self, node: ast.AST) -> None:
        self.bind_generators(node.generators)
        self.generic_visit(node)

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        if isinstance(f, ast.Name) and f.id in KEYED and node.args:  # sorted(rows, key=lambda r: r["x"])
            schema = self.rows_of(node.args[0])
            for k in node.keywords:
                if schema is not None and k.arg == "key" and isinstance(k.value, ast.Lambda):
                    self.row[k.value.args.args[0].arg] = schema
        if isinstance(f, ast.Attribute) and f.attr == "get" and node.args and isinstance(node.args[0], ast.Constant):
            schema = self.row_of(f.value)
            if schema is not None:
                self.check(schema, [node.args[0].value], node)
        self.rows_of(node)  # checks .rows(S, column=...) keywords
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            schema = self.row_of(node.value)
            if schema is not None:
                self.check(schema, [node.slice.value], node)
        self.generic_visit(node)


def check_module(tree: ast.Module, schemas: dict[str, Schema]) -> Checker:
    """Two passes: which module functions return rows of which schema, then every function body."""
    returns: dict[str, Schema] = {}
    for _ in range(2):  # a helper may return another helper's rows
        for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
            finder = Checker(schemas, returns)
            finder.visit(fn)
            for ret in (n for n in ast.walk(fn) if isinstance(n, ast.Return) and n.value is not None):
                schema = finder.rows_of(ret.value)
                if schema is not None:
                    returns[fn.name] = schema
    total = Checker(schemas, returns)
    for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Lambda))):
        checker = Checker(schemas, returns)
        checker.visit(fn)
        total.checked += checker.checked
        total.wrong += checker.wrong
    return total


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        if name.startswith(("tms.sections.", "tms.analysis", "tms.plotting", "tms.report", "tms.claims")):
            out.append((name, path))
    return out


def test_every_column_read_from_a_table_is_one_of_its_columns():
    checked, wrong = 0, []
    for name, path in modules():
        module = importlib.import_module(name)
        schemas = {k: v for k, v in vars(module).items() if isinstance(v, Schema)}
        if not schemas:
            continue
        result = check_module(ast.parse(path.read_text()), schemas)
        checked += result.checked
        wrong += [f"{name} {w}" for w in result.wrong]
    assert not wrong, "\n".join(wrong)
    assert checked > 350, f"only {checked} column reads were followed: the checker lost track of the rows"


S = Schema("points.csv", (Column("density", "float"), Column("best", "bool")))


@pytest.mark.parametrize("code", [
    "def f(t):\n    return [r['densty'] for r in t.read(S)]",
    "def f(t):\n    rows = sorted(t.read(S), key=lambda p: -p['density'])\n    return rows[0]['bset']",
    "def f(t):\n    for r in t.rows(S, best=True):\n        print(r.get('dens'))",
    "def f(t):\n    return t.rows(S, bets=True)",
    "def g(t):\n    return sorted(t.read(S), key=lambda r: r['density'])\ndef f(t):\n    return next(r for r in g(t))['x']",
])
def test_the_checker_finds_a_misspelt_column(code):
    assert check_module(ast.parse(textwrap.dedent(code)), {"S": S}).wrong


def test_a_misspelt_column_at_run_time_names_the_table(tmp_path):
    S.write(tmp_path, [{"density": 0.5, "best": True}])
    (row,) = S.read(tmp_path)
    assert row.density == 0.5 and row["best"] is True and dict(row) == {"density": 0.5, "best": True}
    with pytest.raises(KeyError, match="points.csv has no column 'densty'; its columns: density, best"):
        row["densty"]
    with pytest.raises(AttributeError, match="points.csv has no column 'bset'"):
        row.bset
    with pytest.raises(Exception):
        row.density = 1.0  # frozen
