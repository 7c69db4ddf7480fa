"""``tms new-section NAME``: write a working outside section to start from.

The section is a package folder ``DIR/NAME/`` with one config, one analysis table, one claim, one figure, notes
and a test (templates in ``template/``); ``tms reproduce DIR/NAME`` trains it, checks its claim and puts it into
``claims.json`` and the report. docs/SECTIONS.md explains each part.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import sys
from importlib import resources
from pathlib import Path
from string import Template

from ..errors import ConfigError
from ..files import atomic_folder

FILES = {
    "__init__.py.tmpl": "__init__.py",
    "analysis.py.tmpl": "analysis.py",
    "claims.py.tmpl": "claims.py",
    "figures.py.tmpl": "figures.py",
    "notes.md.tmpl": "notes.md",
    "test_section.py.tmpl": "test_{name}.py",
}
N_FEATURES, N_HIDDEN = 6, 3


def check_name(name: str) -> str:
    """A section name: a Python identifier in lower case (it names a package and its folder) that no installed
    module and no installed section has (pytest puts the folder above it on sys.path, where a ``torch/`` or
    ``tms/`` would shadow the real one)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or keyword.iskeyword(name):
        raise ConfigError(f"name: a section name is lower-case letters, digits and '_', starting with a letter "
                          f"(it names a Python package), got {name!r}")
    if name in sys.builtin_module_names or name in sys.stdlib_module_names or importlib.util.find_spec(name):
        raise ConfigError(f"name: {name!r} is the name of an installed Python module; choose another")
    from ..registry import discover

    reg = discover()
    taken = set(reg.experiments) | {o.section for o in reg.origins.values()}
    if name in taken:
        raise ConfigError(f"name: {name!r} is taken by an installed section; choose another")
    return name


def new_section(name: str, folder: Path | str = ".", suite: str = "mine") -> Path:
    """Write the section ``name`` into ``folder/name`` (refusing a folder that exists) and return its path."""
    check_name(name)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", suite) or suite == "all":
        raise ConfigError(f"suite: letters, digits, '-' and '_' ('all' means every suite), got {suite!r}")
    target = Path(folder) / name
    if target.exists():
        raise ConfigError(f"dir: {target} exists already; choose another name or --dir")
    values = {"name": name, "slug": name, "upper": name.upper(), "suite": suite,
              "title": f"{name}: how many features fit in {N_HIDDEN} dimensions",
              "path": target.as_posix(), "n_features": N_FEATURES, "n_hidden": N_HIDDEN}
    templates = resources.files(__name__).joinpath("template")
    with atomic_folder(target) as tmp:
        for src, dst in FILES.items():
            text = Template(templates.joinpath(src).read_text(encoding="utf-8")).substitute(values)
            (tmp / dst.format(name=name)).write_text(text, encoding="utf-8")
    return target


__all__ = ["new_section"]
