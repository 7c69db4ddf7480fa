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

import hashlib
import importlib
import importlib.util
import logging
import dataclasses
import re
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Iterable

from ._version import DISTRIBUTION
from .errors import ConfigError
from .claims.base import Claim
from .experiment import SUITES, Experiment, FigureSpec, Param

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
    """The distribution and version (``tms-superposition 0.3.0``), or the path."""
    builtin: bool = False
    """One of tms's own sections (an entry point of tms's distribution, :data:`tms._version.DISTRIBUTION`)."""
    module_dir: str = ""
    """The folder of the section's package (or its .py file): a path naming it again loads nothing new."""

    def __str__(self) -> str:
        return f"path {self.where}" if self.kind == "path" else f"entry point {self.section} of {self.where}"

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
        names = [e.name for e in found]
        if len(set(names)) < len(names):
            twice = next(n for n in names if names.count(n) > 1)
            raise SectionError(f"section {origin.section} ({origin}): two experiments are named {twice!r}")
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

    def named(self, names: Iterable[str]) -> set[str]:
        """The experiments ``names`` (experiment or section names, or paths) name themselves, without the ones
        they use."""
        out: set[str] = set()
        for name in names:
            if looks_like_path(name):
                out |= {n for n, o in self.origins.items() if o.module_dir == str(Path(name).resolve())}
            elif name in self.experiments:
                out.add(name)
            else:
                out |= {n for n, o in self.origins.items() if o.section == name}
        return out

    def _with_uses(self, chosen: list[Experiment]) -> list[Experiment]:
        out: list[Experiment] = []

        def add(exp: Experiment, path: tuple[str, ...]) -> None:
            for used in exp.uses:  # the experiments whose runs it reads come first, and theirs before them
                if used not in self.experiments:
                    raise SectionError(f"section {self.origins[exp.name].section}: experiment {exp.name} uses "
                                       f"{used!r}, which no section declares")
                if used in path:
                    raise SectionError(f"section {self.origins[exp.name].section}: experiments use each other in "
                                       f"a circle ({' -> '.join(path + (used,))})")
                add(self.experiments[used], path + (used,))
            if exp not in out:
                out.append(exp)

        for exp in chosen:
            add(exp, (exp.name,))
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
        problem = _field_problem(exp)
        if problem:
            raise SectionError(f"section {section}: experiment {exp.name}: {problem}")
    return list(declared)


#: ``tms reproduce``'s own options: a section parameter may not take one of these names.
RESERVED_PARAMS = frozenset({"suite", "out", "quick", "list", "no_report", "seed", "executor", "ray_address",
                             "cpus_per_task", "device", "engine", "threads", "progress", "no_progress", "verbose",
                             "help", "experiments", "command", "version"})


def _field_problem(exp: Experiment) -> str | None:
    """What is wrong with a declaration's fields, in words (None: nothing)."""
    checks = [
        ("analyses", callable, "functions of the experiment folder"),
        ("figures", lambda f: isinstance(f, FigureSpec) and callable(f.draw), "tms.experiment.FigureSpec"),
        ("claims", lambda c: isinstance(c, Claim), "tms.claims.base.Claim"),
        ("notes", lambda n: isinstance(n, str), "strings"),
        ("params", lambda p: isinstance(p, Param), "tms.experiment.Param"),
        ("uses", lambda u: isinstance(u, str), "experiment names"),
    ]
    for name, ok, what in checks:
        value = getattr(exp, name)
        if not isinstance(value, (tuple, list)) or not all(ok(v) for v in value):
            return f"{name} must be a tuple of {what}"
    ids = [c.id for c in exp.claims]
    if len(set(ids)) < len(ids):
        return f"two claims have the id {next(i for i in ids if ids.count(i) > 1)!r}"
    for param in exp.params:
        if not param.name.isidentifier() or param.name in RESERVED_PARAMS:
            return (f"parameter {param.name!r} must be a Python identifier other than tms reproduce's own options "
                    f"({', '.join(sorted(RESERVED_PARAMS))})")
        if isinstance(param.default, bool) or not isinstance(param.default, int) or param.default < 1:
            return f"parameter {param.name!r} must default to an integer >= 1, got {param.default!r}"
    return None


def _entry_points() -> list[metadata.EntryPoint]:
    """The group's entry points, each once: where two installed distributions declare the same one (tms installed
    under its name beside an old install under its former name, ``tms``), tms's own distribution's."""
    found: dict[tuple[str, str], metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        key = (ep.name, ep.value)
        if key not in found or _distribution(ep)[1]:
            found[key] = ep
    return list(found.values())


def _distribution(ep: metadata.EntryPoint) -> tuple[str, bool]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "an installed package", False
    name = dist.metadata["Name"] or "?"
    return f"{name} {dist.version}", _index_name(name) == _index_name(DISTRIBUTION)


def _index_name(name: str) -> str:
    """A distribution name as the package index compares it (PEP 503: case, and runs of ``-_.``, ignored)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _module_dir(module: ModuleType) -> str:
    file = getattr(module, "__file__", None)
    if not file:
        return ""
    file = Path(file).resolve()
    return str(file.parent if file.name == "__init__.py" else file)


_WARNED: set[str] = set()


def _warn_once(text: str) -> None:
    if text not in _WARNED:
        _WARNED.add(text)
        log.warning("%s; skipped", text)


def discover(paths: Iterable[Path | str] = ()) -> Registry:
    """Every installed section (the ``tms.sections`` entry points), then the sections at ``paths``."""
    reg = Registry()
    for ep in _entry_points():
        where, builtin = _distribution(ep)
        origin = Origin(ep.name, "entry point", where, builtin)
        try:
            module = ep.load()
            reg.add(module, dataclasses.replace(origin, module_dir=_module_dir(module)))
        except SectionError as e:
            reg.broken[ep.name] = str(e)
            _warn_once(str(e))
        except Exception as e:  # an outside section's import error must not stop the others
            reg.broken[ep.name] = f"section {ep.name} ({origin}): cannot be imported ({_cause(e)})"
            _warn_once(reg.broken[ep.name])
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
    """Whether a ``tms reproduce`` argument names a section by path rather than by name: it has a separator or
    ends in .py, or it is a package folder here (``tms new-section demo`` then ``tms reproduce demo``)."""
    return (arg.endswith(".py") or "/" in arg or "\\" in arg or arg in (".", "..")
            or (Path(arg) / "__init__.py").is_file())


def load_path(path: Path | str, reg: Registry | None = None) -> list[Experiment]:
    """Import the section at ``path`` (a package folder with ``__init__.py``, or a ``.py`` file) and add its
    experiments to ``reg``; SectionError naming the path and the cause when it cannot.

    The module is named after a hash of the path (two folders both called ``demo`` are two sections) and imported
    again when one of its files changed (a notebook that edits a section and reproduces it runs the new code).
    A path that an installed section already comes from adds nothing: the installed section is the same code.
    """
    path = Path(path).resolve()
    section = path.stem
    location, search = _location(path)
    if reg is not None:
        same = [n for n, o in reg.origins.items() if o.module_dir == str(path)]
        if same:
            return [reg.experiments[n] for n in same]
    origin = Origin(section, "path", str(path), module_dir=str(path))
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    module_name = f"tms_section_{re.sub(r'[^0-9A-Za-z_]', '_', section)}_{digest}"
    stamp = _stamp(path)
    cached = _LOADED.get(module_name)
    if cached is not None and cached[0] == stamp and sys.modules.get(module_name) is cached[1]:
        module = cached[1]
    else:
        module = _import(module_name, location, search, section, origin)
        _LOADED[module_name] = (stamp, module)
    if reg is None:
        return section_experiments(module, section)
    return reg.add(module, origin)


_LOADED: dict[str, tuple[tuple[float, ...], ModuleType]] = {}
"""Path sections imported in this process, with the modification times of their files when imported."""


def _location(path: Path) -> tuple[Path, list[str] | None]:
    if not path.exists():
        raise SectionError(f"section {path}: does not exist")
    if path.is_dir():
        init = path / "__init__.py"
        if not init.is_file():
            raise SectionError(f"section {path}: a section folder needs an __init__.py declaring EXPERIMENTS")
        return init, [str(path)]
    if path.suffix == ".py":
        return path, None
    raise SectionError(f"section {path}: expected a package folder or a .py file")


def _stamp(path: Path) -> tuple[float, ...]:
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return tuple(f.stat().st_mtime_ns for f in files)


def _import(module_name: str, location: Path, search: list[str] | None, section: str, origin: Origin) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, location, submodule_search_locations=search)
    if spec is None or spec.loader is None:
        raise SectionError(f"section {section} ({origin}): cannot be imported")
    _restore(module_name, None)  # its submodules too: an edited analysis.py is imported again
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # relative imports inside the package need it registered
    try:
        spec.loader.exec_module(module)
    except SectionError:
        _restore(module_name, None)
        raise
    except Exception as e:
        _restore(module_name, None)
        raise SectionError(f"section {section} ({origin}): cannot be imported ({_cause(e)})") from None
    return module


def _restore(name: str, previous: ModuleType | None) -> None:
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]
    if previous is not None:
        sys.modules[name] = previous


def all_experiments(paths: Iterable[Path | str] = ()) -> dict[str, Experiment]:
    """Every experiment of every discovered section, in suite order."""
    return discover(paths).experiments


def choose(names: Iterable[str] | None, suite: str | None = None) -> tuple[Registry, list[Experiment]]:
    """The registry (installed sections and those named by path) and the experiments ``names`` choose: names of
    experiments or sections, paths of outside sections, or a whole suite (the paper's by default) when none is
    named; each after the experiments it uses."""
    names = list(names or [])
    paths = [n for n in names if looks_like_path(n)]
    reg = discover(paths)
    chosen = [n for n in names if not looks_like_path(n)]
    for p in paths:
        where = str(Path(p).resolve())
        chosen += [e for e, o in reg.origins.items() if o.module_dir == where]
    return reg, reg.select(chosen or None, suite)


def get_experiments(names: list[str] | None, suite: str | None = None) -> list[Experiment]:
    """The experiments :func:`choose` chooses."""
    return choose(names, suite)[1]


__all__ = ["ALL", "ENTRY_POINT_GROUP", "Origin", "Registry", "SectionError", "all_experiments", "choose", "discover",
           "get_experiments", "load_path", "looks_like_path", "section_experiments"]
