"""The shape of an experiment: a declaration, never a copy of the training loop.

A *section* is a package (or one ``.py`` file) that declares a list ``EXPERIMENTS`` of :class:`Experiment`; the
paper's sections live in :mod:`tms.sections`, anyone else's anywhere, and all are found the same way
(:mod:`tms.registry`: the ``tms.sections`` entry points, or a path). docs/SECTIONS.md shows how to write one.

An :class:`Experiment` states
- the run configs it trains (``configs(quick, **params)``: a run folder name, relative to the experiment
  folder, for each config; '' is the experiment folder itself), and the parameters it takes (``params``);
- the analyses that write its derived tables from the stored runs (functions of the experiment folder, in the
  section's ``analysis.py``, or shared ones such as :func:`tms.analysis.models.analyze_models`);
- the figures it draws, each a name and a function of the experiment folder (:class:`FigureSpec`; the section's
  ``figures.py``, on the figure kinds of :mod:`tms.plotting`);
- its claims (:class:`tms.claims.base.Claim`, the section's ``claims.py``), its notes (``notes.md`` beside it,
  :func:`load_notes`), its suite and its place in it.

The pipeline (:mod:`tms.pipeline`) runs the stages in order: train what is missing, analyse, draw, check.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Sequence

from matplotlib.figure import Figure

from .analysis.folder import ExperimentFolder
from .claims.base import Claim
from .config import Overrides, RunConfig
from .errors import ConfigError


@dataclass(frozen=True)
class FigureSpec:
    """A figure of an experiment: its file name (under ``figures/``, as PNG and SVG) and the function that draws
    it from the experiment folder (None: nothing to draw, e.g. a run that the experiment does not have)."""

    name: str
    draw: Callable[[ExperimentFolder], Figure | None]


SUITES = ("paper", "beyond")
"""The suites of the built-in sections, in report order: the paper's §1-§8, then the follow-up science. An
outside section may name its own suite; it is listed after these."""


@dataclass(frozen=True)
class Param:
    """A parameter an experiment takes (a positive integer): its name (the ``tms reproduce --NAME`` flag), default
    and a help text for that flag."""

    name: str
    default: int
    help: str = ""


@dataclass(frozen=True)
class Experiment:
    """An experiment of a section (see the module docstring)."""

    name: str
    title: str
    section: str
    """Report grouping inside the suite: 'Introduction', '§2', '§3', …, or any heading."""
    summary: str
    configs: Callable[..., dict[str, RunConfig]]
    """``configs(quick, **params) -> {run folder: RunConfig}``."""
    analyses: tuple[Callable[[ExperimentFolder], None], ...] = ()
    """Run in order; each writes tables (later ones may read earlier ones' tables)."""
    figures: tuple[FigureSpec, ...] = ()
    claims: tuple[Claim, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Caveats and recipe deviations that the report prints with the section."""
    params: tuple[Param, ...] = ()
    """Parameters the experiment takes, with their defaults and help (for example the §3 grid size); the CLI
    makes a flag of each."""
    suite: str = "paper"
    """The suite it belongs to (:data:`SUITES`, or an outside suite's name): ``tms reproduce --suite``."""
    order: float = 100.0
    """Position inside its suite (the paper's sections: their section number); ties keep discovery order."""
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
        return {sub: overrides.apply(cfg) for sub, cfg in self.configs(quick, **self.parameters(overrides)).items()}

    def parameters(self, overrides: Overrides | None = None) -> dict[str, int]:
        """``{parameter: value}``: the defaults with ``overrides``' parameters applied (a parameter the experiment
        does not take is an error naming the ones it does)."""
        params = self.defaults()
        for key, value in (overrides or Overrides()).params:
            if key not in params:
                raise ConfigError(f"experiment {self.name} takes no parameter {key!r}"
                                  + (f"; it takes {', '.join(params)}" if params else ""))
            params[key] = value
        return params

    def defaults(self) -> dict[str, int]:
        """``{parameter: default}``."""
        return {p.name: p.default for p in self.params}

    def describe(self) -> dict[str, Any]:
        """The declaration as plain data, recorded with its results (in ``reproduce.json``) so that reading the
        results (the report) never imports the section's code."""
        return {"name": self.name, "title": self.title, "section": self.section, "suite": self.suite,
                "order": self.order, "summary": self.summary, "notes": list(self.notes),
                "params": [{"name": p.name, "default": p.default, "help": p.help} for p in self.params],
                "uses": list(self.uses),
                "claims": [{"id": c.id, "statement": c.statement, "threshold": c.threshold_text} for c in self.claims],
                "figures": [f.name for f in self.figures]}


def _notes_folder(package: str) -> Any:
    """Where a section's notes lie: its package's resources, or the folder of a single-file section."""
    module = sys.modules.get(package)
    if module is not None and getattr(module, "__path__", None) is None and getattr(module, "__file__", None):
        return Path(module.__file__).parent  # a .py file loaded by path is no package: its notes sit beside it
    return resources.files(package)


def load_notes(package: str, file: str = "notes.md", **values: Any) -> tuple[str, ...]:
    """The notes in a Markdown file of a section package (``load_notes(__name__)`` in its ``__init__``): one note
    per top-level bullet ("- "), its continuation lines joined; ``{name}`` fields named in ``values`` are filled
    from it."""
    try:
        text = _notes_folder(package).joinpath(file).read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError, TypeError) as e:
        raise ConfigError(f"section {package}: notes file {file!r} cannot be read ({e.__class__.__name__})") from None
    notes: list[str] = []
    for line in text.splitlines():
        if line.startswith("- "):
            notes.append(line[2:].strip())
        elif line.startswith("  ") and notes and line.strip():
            notes[-1] += " " + line.strip()
    return tuple(re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), n) for n in notes)
