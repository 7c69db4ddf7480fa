"""Claims: each claim (the paper's, PAPER.md INTRO-1 … S8-4, in their sections; an outside section's own) is one
named check.

A check reads an experiment's derived tables (:class:`~tms.analysis.folder.Tables`: the tables the analysis
wrote and the runs' configs, never the weights), computes one measured number and compares it with a stated
threshold. The :class:`ClaimResult` it gives travels unchanged to ``claims.json``, the terminal table, the
tests and the findings report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..analysis.folder import Tables
from ..errors import RunFolderError
from ..files import atomic_write_json
from ..stats import spearman  # noqa: F401 - the claims' rank correlation

_OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


@dataclass(frozen=True)
class Measurement:
    """What a check measured: the number compared with the threshold, and a note saying how (and why)."""

    value: float
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def checks_verdict(failed: list[str], total: int) -> str:
    """"all 3 checks hold" / "1 of 3 checks failed: ..." (the failed checks' descriptions)."""
    if failed:
        return f"{len(failed)} of {total} checks failed: " + "; ".join(failed)
    return {1: "the check holds", 2: "both checks hold"}.get(total, f"all {total} checks hold")


def failed_checks(checks: list[tuple[str, bool]]) -> Measurement:
    """A measurement that counts failed checks (threshold ``<= 0``): the value is how many of ``checks``
    (description, passed) failed; the note lists the failed ones, then every check."""
    failed = [text for text, ok in checks if not ok]
    return Measurement(float(len(failed)), note=(checks_verdict(failed, len(checks)) + ". Checks: "
                                                 + "; ".join(text for text, _ in checks) + "."),
                       detail={"checks": [{"check": t, "passed": ok} for t, ok in checks]})


@dataclass(frozen=True)
class ClaimResult:
    """A claim checked on one experiment's stored runs."""

    id: str
    experiment: str
    statement: str
    measure: str
    measured: float
    threshold: str
    passed: bool | None
    """True or False; None when the claim was not checked (quick runs are a smoke test, not a check)."""
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def checked(self) -> bool:
        return self.passed is not None

    @property
    def verdict(self) -> str:
        return "NOT CHECKED" if self.passed is None else "PASS" if self.passed else "FAIL"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "experiment": self.experiment, "statement": self.statement, "measure": self.measure,
                "measured": self.measured if math.isfinite(self.measured) else None, "threshold": self.threshold,
                "passed": self.passed, "note": self.note, "detail": _jsonable(self.detail)}

    @classmethod
    def from_dict(cls, d: Any) -> "ClaimResult":
        """One entry of claims.json; ValueError when it is not one."""
        if not isinstance(d, dict):
            raise ValueError("a claim must be a JSON object")
        try:
            measured = d.get("measured")
            passed = d["passed"]
            if passed not in (True, False, None) or not isinstance(d["id"], str):
                raise ValueError
            return cls(id=d["id"], experiment=str(d.get("experiment", "")), statement=str(d.get("statement", "")),
                       measure=str(d.get("measure", "")),
                       measured=math.nan if measured is None else float(measured), threshold=str(d["threshold"]),
                       passed=passed, note=str(d.get("note", "")),
                       detail=d.get("detail") if isinstance(d.get("detail"), dict) else {})
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"claim entry {str(d)[:60]!r} is malformed") from None


def _jsonable(obj: Any) -> Any:
    """Detail values as JSON allows them (non-finite numbers as None, table rows as objects)."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


@dataclass(frozen=True)
class Claim:
    """One paper claim. ``compute(tables)`` reads the experiment's derived tables and returns a Measurement."""

    id: str
    statement: str
    """The paper's claim, in words (PAPER.md)."""
    measure: str
    """What number we compute, in words."""
    op: str
    threshold: float
    compute: Callable[[Tables], Measurement]

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"op must be one of {', '.join(_OPS)}")

    @property
    def threshold_text(self) -> str:
        return f"{self.op} {self.threshold:g}"

    def check(self, tables: Tables, experiment: str = "", checked: bool = True) -> ClaimResult:
        """Measure and compare; with ``checked=False`` (quick runs) the number is measured and shown but no
        verdict is given."""
        m = self.compute(tables)
        value = float(m.value)
        passed = math.isfinite(value) and _OPS[self.op](value, self.threshold)
        return ClaimResult(
            id=self.id, experiment=experiment, statement=self.statement, measure=self.measure, measured=value,
            threshold=self.threshold_text, passed=passed if checked else None, note=m.note, detail=dict(m.detail),
        )


def write_claims(path: Path | str, results: list[ClaimResult]) -> Path:
    return atomic_write_json(path, {"claims": [r.to_dict() for r in results]})


def read_claims(path: Path | str) -> list[ClaimResult]:
    """The ClaimResults of a claims.json ([] when there is none); RunFolderError for a file that is not one."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [ClaimResult.from_dict(c) for c in data["claims"]]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise RunFolderError(f"{path} is not a claims file ({e})") from None


def format_claims_table(claims: list[ClaimResult]) -> str:
    """A plain-text table of claims for the terminal, naming each claim's experiment."""
    rows = [("experiment", "claim", "measured", "threshold", "verdict")]
    for c in claims:
        rows.append((c.experiment, c.id, f"{c.measured:.4g}" if math.isfinite(c.measured) else "n/a", c.threshold,
                     c.verdict))
    widths = [max(len(r[k]) for r in rows) for k in range(5)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(summary_line(claims))
    return "\n".join(lines)


def summary_line(claims: list[ClaimResult]) -> str:
    """'n of m claims passed', saying how many were not checked (quick runs)."""
    checked = [c for c in claims if c.checked]
    unchecked = len(claims) - len(checked)
    text = f"{sum(bool(c.passed) for c in checked)} of {len(checked)} claims passed"
    if unchecked:
        text += (f"; {unchecked} not checked (quick runs: a smoke test, the measured values are shown but no verdict "
                 "is given)")
    return text
