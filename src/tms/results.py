"""Trained models that know what they are: the interface :func:`tms.train`'s :class:`~tms.train.TrainResult`,
:func:`tms.load_run`'s :class:`~tms.runs.Run`, :func:`tms.sweep`'s result and every selection of them
(:class:`Selection`) share.

Every model has **names** (:attr:`Results.labels`): ``density`` (its setting's density, when all its features
share one), ``importance_decay`` (d when its setting's importances are I_i = I_0 d^i), a sweep's names across runs
(``lr``, ``seed``, ``m``, ...), then its place in its run: ``setting``, ``restart`` and ``instance``. Select with
them (:meth:`Results.sel`), keep each setting's lowest-loss restart (:meth:`Results.best`), and measure
(:meth:`Results.norms`, :meth:`Results.dimensionality`, ..., :meth:`Results.table`): the measures are
:mod:`tms.metrics`' functions, and the table's rows are the ones the analysis writes to ``features.csv``
(:func:`tms.metrics.feature_measures`), so a notebook and the report read the same numbers.

**The loss convention.** Every loss here (``loss``, ``final_loss``, the tables' ``loss``) is the trainer's: the
importance-weighted squared error *averaged* over the n features (and the batch), mean_i I_i (x_i - x'_i)². The
paper (and occhio) *sum* over the features, so the paper's number is n times ours:
:meth:`Results.paper_loss`, :func:`tms.metrics.paper_loss`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from numbers import Real
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from . import metrics
from .config import RunConfig
from .errors import ConfigError
from .model import Params, is_tied

#: A number given to :meth:`Results.sel` matches a label when both agree to this many significant digits: exact
#: after rounding, never the nearest value (a density of 0.3 does not select 0.31).
MATCH_DIGITS = 6
#: The names of a model's place in its run, which every model has (after its setting's names).
PLACE = ("setting", "restart", "instance")
#: Names :meth:`Results.best` keeps one model of each: the restarts of a setting.
RESTART_NAMES = ("restart", "instance")


def shared_density(config: RunConfig, setting: int) -> float | None:
    """The setting's density when every feature has it, else None."""
    row = config.density[setting]
    return row[0] if all(v == row[0] for v in row) else None


def importance_decay(config: RunConfig, setting: int) -> float | None:
    """d when the setting's importances are I_i = I_0 d^i (I_0 > 0, at least two features), else None; the
    decay :meth:`RunConfig.uniform` and :func:`tms.sweep` build importances from."""
    row = config.importance[setting]
    if len(row) < 2 or row[0] <= 0:
        return None
    d = row[1] / row[0]
    geometric = all(math.isclose(v, row[0] * d ** i, rel_tol=1e-9, abs_tol=1e-15) for i, v in enumerate(row))
    return d if geometric else None


@dataclass(frozen=True)
class Block:
    """Models of one run: its config, their parameters and final losses in the order of ``index`` (their instance
    numbers in the run), and the names they share beyond the run's own (a sweep's across runs, as pairs)."""

    config: RunConfig
    params: Params
    loss: Tensor
    index: tuple[int, ...]
    axes: tuple[tuple[str, Any], ...] = ()
    folder: Any = None
    """The run folder these models were loaded from (a :class:`~tms.runs.Run`'s path), None for a run in memory:
    what a selection of a stored run keeps of it, so that :meth:`tms.sae.sources.RunSource.of` can name it."""

    @classmethod
    def whole(cls, config: RunConfig, params: Params, loss: Tensor, axes: Sequence[tuple[str, Any]] = (),
              folder: Any = None) -> "Block":
        """Every instance of a run."""
        return cls(config, params, loss, tuple(range(config.n_instances)), tuple(axes), folder)

    def take(self, positions: Sequence[int]) -> "Block":
        """The models at ``positions`` (positions in this block, not instance numbers)."""
        pos = torch.tensor(list(positions), dtype=torch.long)
        return Block(self.config, {k: v[pos] for k, v in self.params.items()}, self.loss[pos],
                     tuple(self.index[p] for p in positions), self.axes, self.folder)

    def labels(self) -> list[dict[str, Any]]:
        """Each model's names, in the order of :data:`PLACE` after its setting's."""
        cfg = self.config
        settings: dict[int, dict[str, Any]] = {}
        out = []
        for i in self.index:
            s = i // cfg.restarts
            if s not in settings:
                settings[s] = {"density": shared_density(cfg, s), "importance_decay": importance_decay(cfg, s),
                               **dict(self.axes)}
            out.append({**settings[s], "setting": s, "restart": i % cfg.restarts, "instance": i})
        return out

    def tied(self, what: str) -> tuple[Tensor, Tensor]:
        """``(W, b)``, or a ConfigError naming ``what`` needs them when the family has other parameters."""
        if not is_tied(self.config.model):
            raise ConfigError(f"{what} needs a tied model (one W and b: relu, linear, hidden-relu); model "
                              f"{self.config.model} has {', '.join(self.params)}")
        return self.params["W"], self.params["b"]


def match_key(value: Any) -> Any:
    """What :meth:`Results.sel` compares: numbers rounded to :data:`MATCH_DIGITS` significant digits."""
    if isinstance(value, Real) and not isinstance(value, bool):
        return float(f"{float(value):.{MATCH_DIGITS}g}")
    return value


def _show(values: Sequence[Any], most: int = 12) -> str:
    text = [f"{v:g}" if isinstance(v, float) else str(v) for v in values]
    if len(text) > most:
        text = [*text[: most - 2], "…", text[-1]]
    return ", ".join(text)


def _cat(tensors: list[Tensor], what: str) -> Tensor:
    """The blocks' tensors as one; a ConfigError when their runs' shapes differ."""
    if len(tensors) == 1:
        return tensors[0]
    shapes = {tuple(t.shape[1:]) for t in tensors}
    if len(shapes) > 1:
        raise ConfigError(f"{what}: these models come from runs of different shapes "
                          f"({'; '.join(str(list(s)) for s in sorted(shapes))}); select models of one shape first")
    return torch.cat(tensors)


class Results:
    """Trained models with their names, selections and measures (see the module docstring). A subclass gives its
    models as blocks, one per run they come from (:class:`Block`, :meth:`_blocks`); every method here works from
    those."""

    def _blocks(self) -> list[Block]:
        raise NotImplementedError

    @property
    def W(self) -> Tensor:
        """``[inst, hidden, feat]``, from the parameters each kind of result holds (``params``)."""
        return self.params["W"]  # type: ignore[attr-defined]

    @property
    def b(self) -> Tensor:
        return self.params["b"]  # type: ignore[attr-defined]

    # -- names ---------------------------------------------------------------------------------------
    @property
    def labels(self) -> list[dict[str, Any]]:
        """Per model, its names (``density``, ``importance_decay``, a sweep's names, ``setting``, ``restart``,
        ``instance``; None where a name does not apply)."""
        return [label for block in self._blocks() for label in block.labels()]

    @property
    def axes(self) -> dict[str, list[Any]]:
        """Every name with the values these models have, sorted (names that apply to none left out)."""
        labels = self.labels
        out = {}
        for name in labels[0]:
            values = {label[name] for label in labels} - {None}
            if values:
                out[name] = sorted(values, key=lambda v: (isinstance(v, str), v))
        return out

    @property
    def index(self) -> list[int]:
        """Each model's instance number in its run."""
        return [i for block in self._blocks() for i in block.index]

    @property
    def n_instances(self) -> int:
        """How many models."""
        return sum(len(block.index) for block in self._blocks())

    @property
    def importance(self) -> Tensor:
        """Per model, per feature importance I_i ``[inst, feat]``."""
        return _cat([torch.tensor([b.config.importance[i // b.config.restarts] for i in b.index])
                     for b in self._blocks()], "importance")

    @property
    def density(self) -> Tensor:
        """Per model, per feature density p_i ``[inst, feat]`` (the label ``density`` is the shared one)."""
        return _cat([torch.tensor([b.config.density[i // b.config.restarts] for i in b.index])
                     for b in self._blocks()], "density")

    def per_run(self) -> list["Selection"]:
        """These models, one :class:`Selection` per run they come from."""
        return [Selection((block,)) for block in self._blocks()]

    def named(self, **names: Any) -> "Selection":
        """These models with more names, the same for all (a sweep names each run's values of its axes across
        runs this way: ``named(lr=0.01)``)."""
        clash = sorted(set(names) & set(self.labels[0]))
        if clash:
            raise ConfigError(f"named: these models have the name(s) {', '.join(clash)} already")
        return Selection(tuple(dataclasses.replace(b, axes=b.axes + tuple(names.items())) for b in self._blocks()))

    # -- selection -----------------------------------------------------------------------------------
    def sel(self, **names: Any) -> "Selection":
        """The models whose names have these values: ``sel(density=0.05)``, ``sel(restart=0)``,
        ``sel(density=[1, 0.05], importance_decay=0.9)`` (a list: any of its values).

        A number matches a label when both agree to :data:`MATCH_DIGITS` significant digits (0.05 selects a
        density of 0.0500000001, never 0.051): there is no nearest match. An unknown name, or a value no model
        has, is a one-line ConfigError listing the names or the values there are. The selection keeps every
        name (``.labels``, ``.axes``) and the run's config."""
        available = self.axes
        wanted = {}
        for name, value in names.items():
            if name not in available:
                raise ConfigError(f"sel: unknown name {name!r}; the names here are {', '.join(available)}")
            values = list(value) if isinstance(value, (list, tuple, set, range)) else [value]
            keys = {match_key(v) for v in available[name]}
            for v in values:
                if match_key(v) not in keys:
                    raise ConfigError(f"sel: {name}={v!r} is not in this result; {name} is one of "
                                      f"{_show(available[name])} (numbers match to {MATCH_DIGITS} significant digits)")
            wanted[name] = {match_key(v) for v in values}
        blocks = []
        for block in self._blocks():
            keep = [p for p, label in enumerate(block.labels())
                    if all(match_key(label[name]) in keys for name, keys in wanted.items())]
            if keep:
                blocks.append(block.take(keep))
        if not blocks:
            raise ConfigError(f"sel: no model has {', '.join(f'{k}={v!r}' for k, v in names.items())} together")
        return Selection(tuple(blocks))

    def best(self) -> "Selection":
        """Each setting's lowest-loss restart among these models (per run; the first on a tie), as
        :meth:`tms.runs.Run.best_instances` chooses."""
        blocks = []
        for block in self._blocks():
            loss = block.loss.tolist()
            chosen: dict[int, int] = {}
            for p, i in enumerate(block.index):
                s = i // block.config.restarts
                if s not in chosen or loss[p] < loss[chosen[s]]:
                    chosen[s] = p
            blocks.append(block.take(sorted(chosen.values())))
        return Selection(tuple(blocks))

    # -- measures (tms.metrics, per model) -----------------------------------------------------------
    def _measure(self, fn: Callable[[Tensor], Tensor], what: str) -> Tensor:
        return _cat([fn(block.tied(what)[0]) for block in self._blocks()], what)

    def norms(self) -> Tensor:
        """‖W_i‖ ``[inst, feat]`` (:func:`tms.metrics.feature_norms`)."""
        return self._measure(metrics.feature_norms, "norms")

    def superposition(self) -> Tensor:
        """Σ_(j≠i) (Ŵ_i·W_j)² ``[inst, feat]`` (:func:`tms.metrics.superposition`)."""
        return self._measure(metrics.superposition, "superposition")

    def dimensionality(self) -> Tensor:
        """D_i = ‖W_i‖² / Σ_j (Ŵ_i·W_j)² ``[inst, feat]`` (:func:`tms.metrics.feature_dimensionality`)."""
        return self._measure(metrics.feature_dimensionality, "dimensionality")

    def interference(self) -> Tensor:
        """Ŵ_i·W_j ``[inst, feat_i, feat_j]``: how strongly feature j activates feature i's direction
        (:func:`tms.metrics.overlaps`)."""
        return self._measure(metrics.overlaps, "interference")

    def gram(self) -> Tensor:
        """WᵀW ``[inst, feat, feat]`` (:func:`tms.metrics.gram`)."""
        return self._measure(metrics.gram, "gram")

    def dims_per_feature(self) -> Tensor:
        """D* = m / ‖W‖_F² ``[inst]`` (:func:`tms.metrics.dimensions_per_feature`, in float64 as models.csv)."""
        return self._measure(lambda W: metrics.dimensions_per_feature(W.double()), "dims_per_feature")

    def paper_loss(self) -> Tensor:
        """Each model's final loss in the paper's convention, summed over features: ``loss * n``
        (:func:`tms.metrics.paper_loss`; see the module docstring)."""
        return torch.cat([metrics.paper_loss(block.loss, block.config.n_features) for block in self._blocks()])

    # -- tables --------------------------------------------------------------------------------------
    def table(self) -> list[dict[str, Any]]:
        """One row per (model, feature): the model's names and final loss, then the feature's ``importance``,
        ``density`` (the feature's own) and the measures of features.csv (:func:`tms.metrics.feature_measures`:
        norm, superposition, dimensionality, bias, represented, superposed, max_overlap, min_cos_represented)."""
        rows = []
        for block in self._blocks():
            cfg = block.config
            measured = metrics.feature_measures(*block.tied("table"))
            for label, loss, model in zip(block.labels(), block.loss.tolist(), measured):
                s = label["setting"]
                for m in model:
                    f = m["feature"]
                    rows.append({**label, "loss": loss, "feature": f, "importance": cfg.importance[s][f],
                                 "density": cfg.density[s][f], **m})
        return rows

    def summary(self) -> list[dict[str, Any]]:
        """One row per model: its names, final loss (and :meth:`paper_loss`), how many features it represents
        and how many of those are in superposition (from :func:`tms.metrics.feature_measures`, as models.csv
        counts them) and D* (:meth:`dims_per_feature`)."""
        rows = []
        for block in self._blocks():
            W, b = block.tied("summary")
            dstar = metrics.dimensions_per_feature(W.double()).tolist()
            for label, loss, model, d in zip(block.labels(), block.loss.tolist(), metrics.feature_measures(W, b),
                                             dstar):
                rows.append({**label, "loss": loss, "paper_loss": metrics.paper_loss(loss, block.config.n_features),
                             "n_represented": sum(m["represented"] for m in model),
                             "n_superposed": sum(m["superposed"] for m in model), "dims_per_feature": d})
        return rows

    def to_pandas(self, per: str = "feature") -> Any:
        """:meth:`table` (``per='feature'``) or :meth:`summary` (``per='model'``) as a pandas DataFrame."""
        if per not in ("feature", "model"):
            raise ConfigError(f"per must be 'feature' or 'model', got {per!r}")
        try:
            import pandas
        except ImportError:
            raise ImportError("to_pandas needs pandas, which is not installed: pip install pandas (or use .table() "
                              "and .summary(), the same rows as dicts)") from None
        return pandas.DataFrame(self.table() if per == "feature" else self.summary())

    def __repr__(self) -> str:
        try:
            blocks = self._blocks()
        except ConfigError:
            return f"<{type(self).__name__} without its config>"
        shapes = sorted({(b.config.n_features, b.config.n_hidden, b.config.model) for b in blocks})
        shape = "; ".join(f"{n} features in {m} dimensions, {model}" for n, m, model in shapes)
        names = "; ".join(f"{k} {_show(v, 6)}" for k, v in self.axes.items() if k not in ("setting", "instance"))
        loss = torch.cat([b.loss.double() for b in blocks])
        return (f"<{type(self).__name__}: {self.n_instances} models ({shape}); {names}; final loss "
                f"{loss.min().item():.4g}…{loss.max().item():.4g}>")


@dataclass(frozen=True, repr=False, eq=False)
class Selection(Results):
    """Models chosen by name (:meth:`Results.sel`, :meth:`Results.best`) or trained by a sweep of several runs:
    their parameters, final losses and names, from one or more runs (a :class:`Block` each). The training log,
    snapshots and run folder stay with the :class:`~tms.train.TrainResult` or :class:`~tms.runs.Run` they came
    from."""

    blocks: tuple[Block, ...]

    def _blocks(self) -> list[Block]:
        return list(self.blocks)

    @property
    def config(self) -> RunConfig:
        """The config of the run these models come from (a ConfigError when they come from several)."""
        if len(self.blocks) > 1:  # a block per run
            names = sorted({k for b in self.blocks for k, _ in b.axes})
            hint = f" with {' and '.join(names)}" if names else ""
            raise ConfigError(f"these models come from {len(self.blocks)} runs; select one run first{hint}")
        return self.blocks[0].config

    @property
    def params(self) -> Params:
        """The parameters by name, each ``[inst, ...]`` (runs of one shape)."""
        return {k: _cat([b.params[k] for b in self.blocks], k) for k in self.blocks[0].params}

    @property
    def loss(self) -> Tensor:
        """Final per-model loss (mean over features: see the module docstring)."""
        return torch.cat([b.loss for b in self.blocks])

    @property
    def final_loss(self) -> Tensor:
        return self.loss
