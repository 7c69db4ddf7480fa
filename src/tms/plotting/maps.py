"""A value over two named axes (a sweep's phase map): one cell per pair of values, coloured and annotated, with a
labelled colour bar. Arrays in, a Figure out; :func:`tms.plot.phase` picks them from a sweep."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from matplotlib.figure import Figure

VALUE_CMAP = "viridis"


def _tick(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def value_map(xs: Sequence[Any], ys: Sequence[Any], values: Sequence[Sequence[float]], xlabel: str, ylabel: str,
              label: str, title: str) -> Figure:
    """``values[j][i]`` at ``(xs[i], ys[j])`` (NaN: no model there) as coloured cells, each with its number; the
    axes are the values in the order given (evenly spaced, whatever their scale)."""
    data = np.asarray(values, dtype=float).reshape(len(ys), len(xs))
    fig = Figure(figsize=(1.6 + 0.75 * max(len(xs), 3), 1.4 + 0.5 * max(len(ys), 3)), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    finite = data[np.isfinite(data)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    image = ax.imshow(data, cmap=VALUE_CMAP, vmin=lo, vmax=hi if hi > lo else lo + 1, origin="lower", aspect="auto")
    for j in range(len(ys)):
        for i in range(len(xs)):
            v = data[j, i]
            if math.isfinite(v):
                light = (v - lo) / ((hi - lo) or 1) > 0.6  # dark text on the light end of viridis
                ax.text(i, j, f"{v:.3g}", ha="center", va="center", fontsize=8, color="black" if light else "white")
    ax.set_xticks(range(len(xs)), [_tick(v) for v in xs], fontsize=8)
    ax.set_yticks(range(len(ys)), [_tick(v) for v in ys], fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    bar = fig.colorbar(image, ax=ax)
    bar.set_label(label)
    fig.suptitle(title, fontsize=10)
    return fig
