"""Claims: each paper claim (PAPER.md ids INTRO-1 … S3-4) is one named check.

A check computes a measured number from stored runs only and compares it with a stated threshold. The same
objects serve the tests, ``tms reproduce`` (claims.json and the table it prints) and the findings report.
"""

from __future__ import annotations

import math
import operator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

_OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


@dataclass(frozen=True)
class Measurement:
    """What a check measured: the number compared with the threshold, and a note saying how (and why)."""

    value: float
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimResult:
    id: str
    experiment: str
    statement: str
    measure: str
    measured: float
    threshold: str
    passed: bool
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if not math.isfinite(self.measured):
            d["measured"] = None
        return d


@dataclass(frozen=True)
class Claim:
    """One paper claim. ``compute(exp_dir)`` reads the experiment's stored runs and returns a Measurement."""

    id: str
    statement: str
    """The paper's claim, in words (PAPER.md)."""
    measure: str
    """What number we compute, in words."""
    op: str
    threshold: float
    compute: Callable[[Path], Measurement]

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"op must be one of {', '.join(_OPS)}")

    @property
    def threshold_text(self) -> str:
        return f"{self.op} {self.threshold:g}"

    def check(self, exp_dir: Path | str, experiment: str = "") -> ClaimResult:
        m = self.compute(Path(exp_dir))
        value = float(m.value)
        passed = math.isfinite(value) and _OPS[self.op](value, self.threshold)
        return ClaimResult(
            id=self.id, experiment=experiment, statement=self.statement, measure=self.measure,
            measured=value, threshold=self.threshold_text, passed=passed, note=m.note, detail=dict(m.detail),
        )
