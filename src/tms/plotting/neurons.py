"""The neuron figure kind (PAPER.md §7, §8): one stacked bar per neuron, each rectangle one weight (height |w|,
colour the feature, negative weights below the axis), features in superposition outlined. Sections pick the
weights and the tick labels (``tms.sections.privileged``); :func:`neuron_figure` lays out one panel per model
(:func:`tms.plot.neurons`)."""

from __future__ import annotations

import math
from typing import Sequence

from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from torch import Tensor

from .common import np64

FEATURE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                  "#bcbd22", "#17becf")


def stacked_neurons(ax, W, superposed: set[int], ticks: list[str]) -> float:
    """One bar per neuron of ``W [m, n]``: positive weights stacked up from 0, negative ones down, largest first;
    returns the tallest extent. ``ticks``: one label per neuron (e.g. mono / poly)."""
    w = np64(W)
    top = 0.0
    for k in range(w.shape[0]):
        up = down = 0.0
        for i in sorted(range(w.shape[1]), key=lambda i: -abs(w[k, i])):
            v = w[k, i]
            color = FEATURE_COLORS[i % len(FEATURE_COLORS)]
            edge = dict(edgecolor="black", linewidth=1.0) if i in superposed else dict(edgecolor="white", linewidth=0.3)
            if v >= 0:
                ax.add_patch(Rectangle((k - 0.35, up), 0.7, v, facecolor=color, **edge))
                up += v
            else:
                ax.add_patch(Rectangle((k - 0.35, down + v), 0.7, -v, facecolor=color, **edge))
                down += v
        top = max(top, up, -down)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xlim(-0.6, w.shape[0] - 0.4)
    ax.set_xticks(range(w.shape[0]))
    ax.set_xticklabels(ticks, fontsize=7)
    return top


def neuron_figure(Ws: Sequence[Tensor], superposed: Sequence[set[int]], titles: Sequence[str], suptitle: str,
                  ncols: int = 5) -> Figure:
    """One :func:`stacked_neurons` panel per model (``W [m, n]``; ``superposed``: its features in superposition,
    outlined), on a shared scale, with a legend of the features; constrained layout, so one panel fits too."""
    k = len(Ws)
    ncols = max(1, min(ncols, k))
    nrows = math.ceil(k / ncols)
    fig = Figure(figsize=(2.5 * ncols + 1.6, 2.6 * nrows + 0.9), layout="constrained")
    axes, extent = [], 0.0
    for idx, (W, sup, title) in enumerate(zip(Ws, superposed, titles)):
        ax = fig.add_subplot(nrows, ncols, idx + 1)
        extent = max(extent, stacked_neurons(ax, W, sup, [str(h) for h in range(W.shape[0])]))
        ax.set_title(title, fontsize=7.5)
        ax.set_xlabel("neuron", fontsize=7)
        axes.append(ax)
    for ax in axes:
        ax.set_ylim(-extent * 1.05 or -1, extent * 1.05 or 1)
        ax.tick_params(axis="y", labelsize=6)
    n = max(W.shape[1] for W in Ws)
    handles = [Patch(facecolor=FEATURE_COLORS[i % len(FEATURE_COLORS)], label=f"feature {i}") for i in range(n)]
    handles.append(Patch(facecolor="white", edgecolor="black", label="outlined: in superposition"))
    fig.legend(handles=handles, loc="outside right center", fontsize=7, frameon=False)
    fig.suptitle(suptitle, fontsize=10)
    return fig
