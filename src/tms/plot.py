"""Figures one call away, for a notebook: ``tms.plot.vectors(result)``, ``.gram``, ``.dimensionality``, ``.phase``
and ``.neurons``.

Each takes :class:`~tms.results.Results` (what :func:`tms.train`, :func:`tms.load_run` and :func:`tms.sweep` give,
and any ``.sel(...)`` of them) or a run folder's path, and returns a ``matplotlib.figure.Figure`` drawn by the
figure kinds the report uses (:mod:`tms.plotting`). With ``best=True`` (the default) a figure shows the lowest-loss
restart of each setting among the models given (:meth:`~tms.results.Results.best`), as the report does; with
``best=False`` every model given.

**Display.** The drawing functions build a ``Figure`` without pyplot (no global state, nothing left open), and
Jupyter shows such a figure inline only once pyplot's inline backend is loaded. Every figure here therefore gets a
``_repr_png_`` (the figure as PNG, cropped to what it holds as the inline backend crops it), so it shows inline as a
cell's value whether or not pyplot is imported, and only once (pyplot does not know it, so it never shows it
again at the end of the cell). ``fig.savefig(path)`` writes it as usual; figures of one panel are laid out so that
their titles and colour-bar labels fit the figure even uncropped.
"""

from __future__ import annotations

import io
import os
import textwrap
import types
from collections import defaultdict
from typing import Any, Union

from matplotlib.figure import Figure

from . import kinds
from .errors import ConfigError
from .plotting.dimensionality import dimensionality_figure
from .plotting.gram import gram_figure
from .plotting.maps import value_map
from .plotting.neurons import neuron_figure
from .plotting.vectors import vector_grid_figure
from .results import PLACE, Results
from .runs import load_run

Source = Union[Results, str, "os.PathLike[str]"]
"""What a plot takes: results, or the path of a run folder."""


def _results(source: Source) -> Results:
    if isinstance(source, Results):
        return source
    if isinstance(source, (str, os.PathLike)):
        return load_run(source)
    raise ConfigError(f"plot: expected results (tms.train, tms.load_run, tms.sweep, .sel) or a run folder's path, "
                      f"got {type(source).__name__}")


def _inline(fig: Figure) -> Figure:
    """``fig`` with its title wrapped to its width and a ``_repr_png_``, so that Jupyter shows it (see the
    module docstring)."""
    title = fig.get_suptitle()
    if title:
        # a figure of one panel is narrower than a sentence: about 0.6 em a character
        per_line = max(20, int(fig.get_figwidth() * 72 / (0.6 * fig._suptitle.get_fontsize())))
        fig._suptitle.set_text("\n".join(textwrap.fill(line, per_line, break_on_hyphens=False) for line in title.split("\n")))

    def _repr_png_(self: Figure) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()

    fig._repr_png_ = types.MethodType(_repr_png_, fig)
    return fig


def _varying(r: Results) -> list[str]:
    """The names that tell the models apart beyond their place in the run; the setting's names when none do."""
    axes = {k: v for k, v in r.axes.items() if k not in PLACE}
    varying = [k for k, v in axes.items() if len(v) > 1]
    return varying or [k for k in ("density", "importance_decay") if k in axes]


def _text(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _models(r: Results, what: str, superposed: bool = False) -> list[dict[str, Any]]:
    """Every model as a record (its names, config, W, b, loss, importance, norms, superposition and, with
    ``superposed``, the set of its features in superposition, as features.csv labels them), in panel order: by
    the varying names other than density, then from dense to sparse (the report's order)."""
    out = []
    for part in r.per_run():
        cfg = part.config
        W, b = part._blocks()[0].tied(what)
        norms, sup = part.norms(), part.superposition()
        rows = part.table() if superposed else []
        for k, (label, loss, imp) in enumerate(zip(part.labels, part.loss.tolist(), part.importance.tolist())):
            out.append({"label": label, "config": cfg, "W": W[k], "b": b[k], "loss": loss, "importance": imp,
                        "norms": norms[k].tolist(), "sup": sup[k].tolist(),
                        "superposed": {row["feature"] for row in rows[k * cfg.n_features:(k + 1) * cfg.n_features]
                                       if row["superposed"]}})
    names = [n for n in _varying(r) if n != "density"]

    def order(m: dict[str, Any]) -> tuple:
        label = m["label"]
        density = label["density"] if label["density"] is not None else -float(label["setting"])
        return (*[(label[n] is None, label[n]) for n in names], -density, label["restart"])

    return sorted(out, key=order)


def _titles(r: Results, models: list[dict[str, Any]]) -> list[str]:
    names = _varying(r)
    return [", ".join(f"{n} {_text(m['label'][n])}" for n in names if m["label"][n] is not None) +
            f"\nrestart {m['label']['restart']}, loss {m['loss']:.3g}" for m in models]


def _suptitle(r: Results, what: str, best: bool) -> str:
    shapes = sorted({(b.config.model, b.config.n_features, b.config.n_hidden) for b in r._blocks()})
    shape = "; ".join(f"{kinds.MODELS.label(model)} model, n = {n} features in m = {m} dimensions"
                      for model, n, m in shapes)
    which = "lowest-loss restart per setting" if best else "every model"
    return f"{shape}: {what} ({which})"


def _pick(source: Source, best: bool) -> Results:
    r = _results(source)
    return r.best() if best else r


def vectors(results: Source, best: bool = True, ncols: int = 5) -> Figure:
    """Every W_i as a vector in the plane, one panel per model, coloured by importance (the paper's
    introduction figure; :func:`tms.plotting.vectors.vector_grid_figure`). Needs m = 2."""
    r = _pick(results, best)
    models = _models(r, "plot.vectors")
    wide = sorted({m["config"].n_hidden for m in models} - {2})
    if wide:
        raise ConfigError(f"plot.vectors draws W_i in the plane: it needs m = 2 hidden dimensions, got m = "
                          f"{wide[0]}; tms.plot.gram draws any m")
    fig = vector_grid_figure([m["W"] for m in models], [m["importance"] for m in models], _titles(r, models),
                             _suptitle(r, "each W_i as a vector", best), ncols=ncols, layout="constrained")
    return _inline(fig)


def gram(results: Source, best: bool = True, ncols: int = 4) -> Figure:
    """Per model, ‖W_i‖ bars coloured by superposition, WᵀW and b (the paper's §2 figure;
    :func:`tms.plotting.gram.gram_figure`)."""
    r = _pick(results, best)
    models = _models(r, "plot.gram")
    fig = gram_figure([m["W"] for m in models], [m["b"] for m in models], [m["norms"] for m in models],
                      [m["sup"] for m in models], _titles(r, models),
                      _suptitle(r, "‖W_i‖ (colour: superposition), WᵀW and b", best), ncols=ncols)
    return _inline(fig)


def _series(rows: list[dict[str, Any]], names: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Rows grouped by their values of ``names`` (one series each; '' when there are none)."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        out[", ".join(f"{n} {_text(row[n])}" for n in names)].append(row)
    return out


def dimensionality(results: Source, best: bool = True) -> Figure:
    """Each represented feature's dimensionality D_i against 1/(1 − S) = 1/density, with D* = m / ‖W‖_F² of each
    setting's lowest-loss model as a line and the paper's fractions marked (its §4 figure;
    :func:`tms.plotting.dimensionality.dimensionality_figure`). One colour per value of the other names that
    vary (importance_decay, a sweep's axes)."""
    r = _results(results)
    shown = r.best() if best else r
    names = [n for n in _varying(r) if n != "density"]
    points = {k: ([row["density"] for row in rows if row["represented"]],
                  [row["dimensionality"] for row in rows if row["represented"]])
              for k, rows in _series(shown.table(), names).items()}
    lines = {k: ([row["density"] for row in rows], [row["dims_per_feature"] for row in rows])
             for k, rows in _series(r.best().summary(), names).items() if None not in
             [row["density"] for row in rows]}
    if not any(ps for ps, _ in points.values()) and not lines:
        raise ConfigError("plot.dimensionality: nothing to draw (no represented feature, and no setting whose "
                          "features share one density)")
    return _inline(dimensionality_figure(points, lines, _suptitle(r, "feature dimensionality D_i", best)))


def phase(results: Source, x: str = "density", y: str = "importance_decay", value: str = "n_represented",
          best: bool = True) -> Figure:
    """``value`` (a column of :meth:`~tms.results.Results.summary`: n_represented, n_superposed,
    dims_per_feature, loss, paper_loss) over the names ``x`` and ``y``, one cell per pair of values (the mean
    over the models there: the other names' values, and the restarts with ``best=False``), as coloured cells
    (:func:`tms.plotting.maps.value_map`)."""
    r = _results(results)
    axes = r.axes
    for axis, name in (("x", x), ("y", y)):
        if name not in axes:
            raise ConfigError(f"plot.phase: {axis}={name!r} is not a name of these models; names: {', '.join(axes)}")
    rows = (r.best() if best else r).summary()
    numeric = [k for k, v in rows[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)
               and k not in axes]
    if value not in numeric:
        raise ConfigError(f"plot.phase: value={value!r} is not a measure of each model; one of {', '.join(numeric)}")
    cells: dict[tuple[Any, Any], list[float]] = defaultdict(list)
    for row in rows:
        cells[(row[x], row[y])].append(row[value])
    xs, ys = axes[x], axes[y]
    grid = [[sum(cells[(a, b)]) / len(cells[(a, b)]) if cells[(a, b)] else float("nan") for a in xs] for b in ys]
    label = {"n_represented": "represented features", "n_superposed": "features in superposition",
             "dims_per_feature": "D* = m / ‖W‖_F²"}.get(value, value)
    return _inline(value_map(xs, ys, grid, x, y, label, _suptitle(r, f"{label} by {x} and {y}", best)))


def neurons(results: Source, best: bool = True, ncols: int = 5) -> Figure:
    """Per model, each hidden neuron's input weights stacked (height |w|, colour the feature, negative below the
    axis, features in superposition outlined): the paper's §7 figure for the hidden-ReLU model, whose neurons are
    a privileged basis (:func:`tms.plotting.neurons.neuron_figure`; other tied models draw too)."""
    r = _pick(results, best)
    models = _models(r, "plot.neurons", superposed=True)
    fig = neuron_figure([m["W"] for m in models], [m["superposed"] for m in models], _titles(r, models),
                        _suptitle(r, "each neuron's input weights", best), ncols=ncols)
    return _inline(fig)
