"""Registry of the paper's experiments, in the order ``tms reproduce`` runs them.

Each module under ``experiments/`` declares a list ``EXPERIMENTS`` of :class:`~.base.Experiment`; adding an
experiment is adding a module here.
"""

from __future__ import annotations

import importlib

from ..errors import ConfigError
from .base import Experiment, FigureSpec

_MODULES = ("intro", "section2", "phase", "geometry", "nonuniform", "correlated", "dynamics", "adversarial",
            "privileged", "computation")


def all_experiments() -> dict[str, Experiment]:
    out: dict[str, Experiment] = {}
    for mod in _MODULES:
        for exp in importlib.import_module(f"{__name__}.{mod}").EXPERIMENTS:
            out[exp.name] = exp
    return out


def get_experiments(names: list[str] | None) -> list[Experiment]:
    """The named experiments (all of them when ``names`` is empty), each after the experiments whose runs it reads
    (``Experiment.uses``), or ConfigError naming the unknown one."""
    registry = all_experiments()
    if not names:
        return list(registry.values())
    out: list[Experiment] = []
    for name in names:
        if name not in registry:
            raise ConfigError(f"unknown experiment {name!r}; choose from: {', '.join(registry)}")
        for used in registry[name].uses:  # the experiments whose runs it reads come first
            if registry[used] not in out:
                out.append(registry[used])
        if registry[name] not in out:
            out.append(registry[name])
    return out


__all__ = ["Experiment", "FigureSpec", "all_experiments", "get_experiments"]
