"""The shape of an experiment: a declaration, never a copy of the training loop.

An :class:`Experiment` states
- the run configs it trains (``configs(quick, **params)``: a run folder name, relative to the experiment
  folder, for each config; '' is the experiment folder itself), and the parameters it takes (``params``);
- the analyses that write its derived tables from the stored runs (functions of :mod:`tms.analysis`);
- the figures it draws, each a name and a figure function of the shared plotting package (:class:`FigureSpec`);
- its claims (:mod:`tms.claims`) and its notes (Markdown beside the module, :func:`load_notes`).

The pipeline (:mod:`tms.pipeline`) runs the stages in order: train what is missing, analyse, draw, check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Callable, Sequence

from matplotlib.figure import Figure

from ..analysis.folder import ExperimentFolder
from ..claims.base import Claim
from ..config import Overrides, RunConfig
from ..errors import ConfigError


@dataclass(frozen=True)
class FigureSpec:
    """A figure of an experiment: its file name (under ``figures/``, as PNG and SVG) and the function that draws
    it from the experiment folder (None: nothing to draw, e.g. a run that the experiment does not have)."""

    name: str
    draw: Callable[[ExperimentFolder], Figure | None]


@dataclass(frozen=True)
class Experiment:
    """A paper experiment (see the module docstring)."""

    name: str
    title: str
    section: str
    """Report grouping: 'Introduction', '§2', '§3', …"""
    summary: str
    configs: Callable[..., dict[str, RunConfig]]
    """``configs(quick, **params) -> {run folder: RunConfig}``."""
    analyses: tuple[Callable[[ExperimentFolder], None], ...] = ()
    """Run in order; each writes tables (later ones may read earlier ones' tables)."""
    figures: tuple[FigureSpec, ...] = ()
    claims: tuple[Claim, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Caveats and recipe deviations that the report prints with the section."""
    params: tuple[tuple[str, int], ...] = ()
    """Parameters the experiment takes, with their defaults (for example the §3 grid size)."""
    uses: tuple[str, ...] = ()
    """Experiments whose stored runs this one's analyses read (from their folders beside its own): reproduced
    first when they are not chosen too."""
    snapshots: Callable[[str, RunConfig], Sequence[int] | str | None] = lambda run, config: None
    """``snapshots(run, config)``: the training snapshots a run keeps (None, 'log' or steps in [0, steps];
    :func:`tms.train.train`); a stored run without them is trained again."""

    def run_configs(self, quick: bool = False, overrides: Overrides | None = None) -> dict[str, RunConfig]:
        """The configs to train, with ``overrides`` applied (a parameter the experiment does not take is an
        error naming the ones it does)."""
        overrides = overrides or Overrides()
        params = dict(self.params)
        for key, value in overrides.params:
            if key not in params:
                raise ConfigError(f"experiment {self.name} takes no parameter {key!r}"
                                  + (f"; it takes {', '.join(params)}" if params else ""))
            params[key] = value
        return {sub: overrides.apply(cfg) for sub, cfg in self.configs(quick, **params).items()}


def load_notes(package: str, file: str, **values: Any) -> tuple[str, ...]:
    """The notes in a Markdown file beside an experiment module: one note per top-level bullet ("- "), its
    continuation lines joined; ``{name}`` fields named in ``values`` are filled from it."""
    text = resources.files(package).joinpath(file).read_text(encoding="utf-8")
    notes: list[str] = []
    for line in text.splitlines():
        if line.startswith("- "):
            notes.append(line[2:].strip())
        elif line.startswith("  ") and notes and line.strip():
            notes[-1] += " " + line.strip()
    return tuple(re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), n) for n in notes)
