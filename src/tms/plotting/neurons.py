"""The neuron figure kind (PAPER.md §7, §8): one stacked bar per neuron, each rectangle one weight (height |w|,
colour the feature, negative weights below the axis), features in superposition outlined. Sections pick the
weights and the tick labels (``tms.sections.privileged``)."""

from __future__ import annotations

from matplotlib.patches import Rectangle

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
