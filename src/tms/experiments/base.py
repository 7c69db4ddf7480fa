"""The shape of an experiment: a small declarative module, never a copy of the training loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..claims import Claim
from ..config import RunConfig


@dataclass(frozen=True)
class Experiment:
    """A paper experiment.

    ``runs(quick)`` maps a folder relative to the experiment folder ('' for the experiment folder itself) to
    the config to train there. ``analyze(exp_dir)`` may write derived tables from the stored runs,
    ``figures(exp_dir)`` draws PNG+SVG figures from them and returns the paths, and ``claims`` are checked
    against them. None of the three trains anything.
    """

    name: str
    title: str
    section: str
    """Report grouping, e.g. 'Introduction', '§2', '§3'."""
    summary: str
    runs: Callable[[bool], dict[str, RunConfig]]
    figures: Callable[[Path], list[Path]]
    claims: tuple[Claim, ...] = ()
    analyze: Callable[[Path], None] | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Caveats and recipe deviations that the report prints with the section."""

    def run_dirs(self, exp_dir: Path, quick: bool = False) -> dict[str, Path]:
        return {sub: (exp_dir / sub if sub else exp_dir) for sub in self.runs(quick)}
