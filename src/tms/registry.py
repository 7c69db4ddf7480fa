"""Where sections come from: one mechanism for the paper's and everyone else's.

A *section* is a Python package (or a single ``.py`` file) whose top level declares ``EXPERIMENTS``, a list of
:class:`~tms.experiment.Experiment`. Sections are found

- through the entry-point group ``tms.sections`` (:data:`ENTRY_POINT_GROUP`): tms's own pyproject declares the
  paper's sections there, and any installed distribution may add its own (``[project.entry-points."tms.sections"]
  my_section = "my_package.my_section"``), like pytest finds its plugins;
- from a path (``tms reproduce ./my_section``): a package folder or a ``.py`` file that is not installed.

:func:`discover` loads them into a :class:`Registry`, which knows each experiment's section and origin
(``tms reproduce --list``) and orders them by suite (:data:`tms.experiment.SUITES` first) and ``order``.

A section that cannot be loaded (an import error, no ``EXPERIMENTS``, a declaration missing a field, a name
that another section already has) is a :class:`SectionError`: one line naming the section and the cause. An
installed section that fails is skipped with a warning unless it is asked for; a section given by path fails
at once.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import re
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Iterable

from .errors import ConfigError
from .experiment import SUITES, Experiment

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "tms.sections"
ALL = "all"
"""``--suite all``: every suite."""
DEFAULT_SUITE = "paper"


class SectionError(ConfigError):
    """A section that cannot be loaded or whose code failed: one line naming the section and the cause (exit 2)."""


@dataclass(frozen=True)
class Origin:
    """Where a section was found: an entry point of an installed distribution, or a path."""

    section: str
    kind: str
    """'entry point' or 'path'."""
    where: str
    """The distribution and version (``tms 0.3.0``), or the path."""
    builtin: bool = False
    """One of tms's own sections."""

    def __str__(self) -> str:
        return f"{self.kind} {self.where}" if self.kind == "path" else f"{self.where} (entry point {self.section})"

    def to_dict(self) -> dict[str, object]:
        return {"section": self.section, "kind": self.kind, "where": self.where, "builtin": self.builtin}


@dataclass
class Registry:
    """Experiments by name, in suite order, with the section and origin of each."""

    experiments: dict[str, Experiment] = field(default_factory=dict)
    origins: dict[str, Origin] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)
    """Installed sections that failed to load: section name -> the one-line cause."""

    def add(self, module: ModuleType, origin: Origin) -> list[Experiment]:
        found = section_experiments(module, origin.section)
        for exp in found:
            if exp.name in self.experiments:
                raise SectionError(f"section {origin.section} ({origin}): experiment name {exp.name!r} is taken by "
                                   f"section {self.origins[exp.name].section} ({self.origins[exp.name]})")
        for exp in found:
            self.experiments[exp.name] = exp
            self.origins[exp.name] = origin
        self._sort()
        return found

    def _sort(self) -> None:
        found = {n: k for k, n in enumerate(self.experiments)}
        rank = {s: k for k, s in enumerate(SUITES)}
        names = sorted(found, key=lambda n: (rank.get(self.experiments[n].suite, len(rank)), self.experiments[n].suite,
                                             self.experiments[n].order, found[n]))
        self.experiments = {n: self.experiments[n] for n in names}

    def suites(self) -> list[str]:
        return list(dict.fromkeys(e.suite for e in self.experiments.values()))

    def in_suite(self, suite: str) -> list[Experiment]:
        if suite != ALL and suite not in self.suites():
            raise ConfigError(f"suite: unknown suite {suite!r}; choose from: {', '.join(self.suites() + [ALL])}")
        return [e for e in self.experiments.values() if suite == ALL or e.suite == suite]

    def select(self, names: Iterable[str] | None, suite: str | None = None) -> list[Experiment]:
        """The named experiments (a section's name selects all its experiments), or the suite's when none are
        named, each after the experiments whose runs it reads (``Experiment.uses``); ConfigError naming an unknown
        one."""
        names = list(names or [])
        if not names:
            return self._with_uses(self.in_suite(suite or DEFAULT_SUITE))
        chosen: list[Experiment] = []
        for name in names:
            if name in self.experiments:
                chosen.append(self.experiments[name])
                continue
            of_section = [e for n, e in self.experiments.items() if self.origins[n].section == name]
            if of_section:
                chosen += of_section
                continue
            if name in self.broken:
                raise SectionError(self.broken[name])
            raise ConfigError(f"unknown experiment {name!r}; choose from: {', '.join(self.experiments)} (or a "
                              "section's folder or .py file)")
        return self._with_uses(chosen)

    def _with_uses(self, chosen: list[Experiment]) -> list[Experiment]:
        out: list[Experiment] = []
        for exp in chosen:
            for used in exp.uses:  # the experiments whose runs it reads come first
                if used not in self.experiments:
                    raise SectionError(f"section {self.origins[exp.name].section}: experiment {exp.name} uses "
                                       f"{used!r}, which no section declares")
                if self.experiments[used] not in out:
                    out.append(self.experiments[used])
            if exp not in out:
                out.append(exp)
        return out

    def section_of(self, name: str) -> str:
        return self.origins[name].section


_REQUIRED = ("name", "title", "section", "summary", "configs")


def section_experiments(module: ModuleType, section: str) -> list[Experiment]:
    """The ``EXPERIMENTS`` a section module declares, checked: each an :class:`Experiment` with a name, title,
    heading, summary and configs function, names made of letters, digits, '-' and '_'."""
    declared = getattr(module, "EXPERIMENTS", None)
    if declared is None:
        raise SectionError(f"section {section}: declares no EXPERIMENTS (a list of tms.experiment.Experiment)")
    if isinstance(declared, Experiment):
        declared = [declared]
    if not isinstance(declared, (list, tuple)) or not declared:
        raise SectionError(f"section {section}: EXPERIMENTS must be a non-empty list of tms.experiment.Experiment")
    for exp in declared:
        if not isinstance(exp, Experiment):
            raise SectionError(f"section {section}: EXPERIMENTS holds a {type(exp).__name__}, not a "
                               "tms.experiment.Experiment")
        missing = [f for f in _REQUIRED if not getattr(exp, f, None)]
        if missing:
            raise SectionError(f"section {section}: experiment {exp.name or '?'} lacks {', '.join(missing)}")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", exp.name):
            raise SectionError(f"section {section}: experiment name {exp.name!r} must be letters, digits, '-' and "
                               "'_' (it names a folder)")
        if not callable(exp.configs):
            raise SectionError(f"section {section}: experiment {exp.name}: configs must be a function "
                               "configs(quick, **params) -> {run: RunConfig}")
    return list(declared)


def _entry_points() -> list[metadata.EntryPoint]:
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


def _distribution(ep: metadata.EntryPoint) -> tuple[str, bool]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "an installed package", False
    name = dist.metadata["Name"] or "?"
    return f"{name} {dist.version}", ep.value.split(":")[0].startswith("tms.sections.")


def discover(paths: Iterable[Path | str] = ()) -> Registry:
    """Every installed section (the ``tms.sections`` entry points), then the sections at ``paths``."""
    reg = Registry()
    for ep in _entry_points():
        where, builtin = _distribution(ep)
        origin = Origin(ep.name, "entry point", where, builtin)
        try:
            module = ep.load()
            reg.add(module, origin)
        except SectionError as e:
            reg.broken[ep.name] = str(e)
            log.warning("%s; skipped", e)
        except Exception as e:  # an outside section's import error must not stop the others
            reg.broken[ep.name] = f"section {ep.name} ({origin}): cannot be imported ({_cause(e)})"
            log.warning("%s; skipped", reg.broken[ep.name])
    if not reg.experiments and not reg.broken:
        log.warning("no sections found in the entry-point group %s: is tms installed (pip install -e .)?",
                    ENTRY_POINT_GROUP)
    for path in paths:
        load_path(path, reg)
    return reg


def _cause(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{e.__class__.__name__}: {text}" if text else e.__class__.__name__


def looks_like_path(arg: str) -> bool:
    """Whether a ``tms reproduce`` argument names a section by path rather than by name."""
    return arg.endswith(".py") or "/" in arg or "\\" in arg or arg in (".", "..")


def load_path(path: Path | str, reg: Registry | None = None) -> list[Experiment]:
    """Import the section at ``path`` (a package folder with ``__init__.py``, or a ``.py`` file) and add its
    experiments to ``reg``; SectionError naming the path and the cause when it cannot."""
    path = Path(path).resolve()
    section = path.stem
    if not path.exists():
        raise SectionError(f"section {path}: does not exist")
    if path.is_dir():
        init = path / "__init__.py"
        if not init.is_file():
            raise SectionError(f"section {path}: a section folder needs an __init__.py declaring EXPERIMENTS")
        location, search = init, [str(path)]
    elif path.suffix == ".py":
        location, search = path, None
    else:
        raise SectionError(f"section {path}: expected a package folder or a .py file")
    module_name = f"tms_section_{re.sub(r'[^0-9A-Za-z_]', '_', section)}"
    origin = Origin(section, "path", str(path))
    spec = importlib.util.spec_from_file_location(module_name, location, submodule_search_locations=search)
    if spec is None or spec.loader is None:
        raise SectionError(f"section {section} ({origin}): cannot be imported")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(module_name)
    sys.modules[module_name] = module  # relative imports inside the package need it registered
    try:
        spec.loader.exec_module(module)
    except SectionError:
        _restore(module_name, previous)
        raise
    except Exception as e:
        _restore(module_name, previous)
        raise SectionError(f"section {section} ({origin}): cannot be imported ({_cause(e)})") from None
    if reg is None:
        return section_experiments(module, section)
    return reg.add(module, origin)


def _restore(name: str, previous: ModuleType | None) -> None:
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]
    if previous is not None:
        sys.modules[name] = previous


def all_experiments(paths: Iterable[Path | str] = ()) -> dict[str, Experiment]:
    """Every experiment of every discovered section, in suite order."""
    return discover(paths).experiments


def get_experiments(names: list[str] | None, suite: str | None = None) -> list[Experiment]:
    """The named experiments or sections, names that look like paths loaded as sections (all of a suite, the
    paper's by default, when ``names`` is empty)."""
    names = list(names or [])
    paths = [n for n in names if looks_like_path(n)]
    reg = discover(paths)
    chosen = [n for n in names if not looks_like_path(n)]
    for p in paths:
        chosen += [e.name for n, e in reg.experiments.items() if reg.origins[n].where == str(Path(p).resolve())]
    return reg.select(chosen or None, suite)


__all__ = ["ALL", "ENTRY_POINT_GROUP", "Origin", "Registry", "SectionError", "all_experiments", "discover",
           "get_experiments", "load_path", "looks_like_path", "section_experiments"]
