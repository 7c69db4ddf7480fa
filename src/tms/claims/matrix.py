"""The claims × variants matrix of ``tms robustness``: its table (``robustness.csv``), read back, and shown as
Markdown. Below the orchestration that writes it, so that the report can read it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..layout import ROBUSTNESS_CSV
from ..tables import Column, Row, Schema

TABLE = Schema(ROBUSTNESS_CSV, (
    Column("variant", "str"), Column("experiment", "str"), Column("claim", "str"), Column("measured", "float"),
    Column("threshold", "str"), Column("passed", "bool", "empty: not checked (quick runs)"), Column("note", "str"),
))


def read_table(path: Path | str) -> list[Row]:
    """The rows of a ``robustness.csv`` (path to the file); RunFolderError naming what is wrong."""
    path = Path(path)
    return Schema(path.name, TABLE.columns).read(path.parent)


@dataclass(frozen=True)
class Matrix:
    """Claims (rows) x variants (columns) of a robustness table."""

    variants: list[str]
    claims: list[tuple[str, str]]
    """(experiment, claim id) in first-seen order."""
    cells: dict[tuple[str, str, str], dict[str, Any]]
    """(variant, experiment, claim) -> row."""
    errors: dict[str, str]
    """variant -> why it measured nothing (training diverged, ...)."""

    @classmethod
    def of(cls, rows: list[dict[str, Any]]) -> "Matrix":
        variants: list[str] = []
        claims: list[tuple[str, str]] = []
        for r in rows:
            if r["variant"] not in variants:
                variants.append(r["variant"])
            if (r["experiment"], r["claim"]) not in claims:
                claims.append((r["experiment"], r["claim"]))
        return cls(variants, claims, {(r["variant"], r["experiment"], r["claim"]): r for r in rows},
                   {r["variant"]: r["note"] for r in rows if r.get("note")})

    def rows(self) -> list[tuple[str, str, list[dict[str, Any] | None]]]:
        """(experiment, claim id, that claim's row under each variant or None) for every claim."""
        return [(exp, cid, [self.cells.get((v, exp, cid)) for v in self.variants]) for exp, cid in self.claims]

    @property
    def by_variant(self) -> bool:
        """Whether to show a row per variant (a claim per column): when there are more variants than claims, as in
        a grid, so that the table grows down rather than across."""
        return len(self.variants) > len(self.claims)

    def passed(self, variant: str) -> tuple[int, int]:
        mine = [r for (v, _, _), r in self.cells.items() if v == variant]
        return sum(r["passed"] is True for r in mine), len(mine)


def _verdict(passed: bool | None) -> str:
    return "not checked" if passed is None else "PASS" if passed else "**FAIL**"


def _cell(r: dict[str, Any] | None) -> str:
    if r is None:
        return "–"
    return f"{'n/a' if r['measured'] is None else format(r['measured'], '.3g')} {_verdict(r['passed'])}"


def markdown_table(mx: Matrix) -> str:
    """The claims x variants table as Markdown (a row per claim, or a row per variant when
    :attr:`Matrix.by_variant`), with the pass count of each variant and a line per variant that measured nothing."""
    if mx.by_variant:
        lines = ["| variant | " + " | ".join(f"{cid} ({exp})" for exp, cid in mx.claims) + " | passed |",
                 "|---|" + "---:|" * (len(mx.claims) + 1)]
        for v in mx.variants:
            cells = [_cell(mx.cells.get((v, exp, cid))) for exp, cid in mx.claims]
            lines.append(f"| {v} | " + " | ".join(cells) + " | {}/{} |".format(*mx.passed(v)))
    else:
        lines = ["| claim | " + " | ".join(mx.variants) + " |", "|---|" + "---:|" * len(mx.variants)]
        for exp, cid, row in mx.rows():
            lines.append(f"| {cid} ({exp}) | " + " | ".join(map(_cell, row)) + " |")
        lines.append("| passed | " + " | ".join("{}/{}".format(*mx.passed(v)) for v in mx.variants) + " |")
    if mx.errors:
        lines.append("")
        lines += [f"- {name}: no claims measured: {note}" for name, note in mx.errors.items()]
    return "\n".join(lines)
