"""Feature dimensionality against sparsity (the paper's §4 figure): every feature's D_i over 1/(1 − S) = 1/p on a
log axis, D* = m / ‖W‖_F² of the models as lines, and the fractions the paper finds (1, 3/4, 2/3, 1/2, 2/5, 3/8)
as dashed lines. Arrays in, a Figure out; :func:`tms.plot.dimensionality` picks them from a result."""

from __future__ import annotations

from fractions import Fraction
from typing import Mapping, Sequence

from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..geometry import FRACTIONS, fraction_label

Series = Mapping[str, tuple[Sequence[float], Sequence[float]]]
"""Named ``(densities, values)`` pairs: one colour each."""


def dimensionality_figure(points: Series, lines: Series, title: str,
                          fractions: Sequence[Fraction] = FRACTIONS) -> Figure:
    """``points``: per series, each feature's density p and D_i; ``lines``: per series, the densities and D* of
    its models (joined in order of density). One colour per series name; x is 1/p."""
    fig = Figure(figsize=(7.5, 4.4), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for f in fractions:
        ax.axhline(float(f), color="0.8", lw=0.7, ls="--", zorder=0)
        ax.text(1.005, float(f), fraction_label(f), transform=ax.get_yaxis_transform(), va="center", fontsize=8,
                color="0.35")
    cmap = colormaps["tab10"]
    names = list(dict.fromkeys([*points, *lines]))
    handles = []
    for k, name in enumerate(names):
        color = cmap(k % 10)
        if name in points:
            ps, ds = points[name]
            ax.scatter([1 / p for p in ps], ds, s=16, color=color, alpha=0.7, lw=0, zorder=2)
        if name in lines:
            ps, ds = lines[name]
            order = sorted(range(len(ps)), key=lambda i: ps[i])
            ax.plot([1 / ps[i] for i in order], [ds[i] for i in order], "-", color=color, lw=1.1, zorder=3)
        if name:
            handles.append(Patch(color=color, label=name))
    handles += [Line2D([], [], color="0.3", marker="o", ls="", ms=4, label="D_i of a represented feature"),
                Line2D([], [], color="0.3", lw=1.1, label="D* = m / ‖W‖_F² of a model")]
    xs = [1 / p for ps, _ in [*points.values(), *lines.values()] for p in ps] or [1.0]
    ax.set_xscale("log")
    ax.set_xlim(min(xs) / 1.3, max(xs) * 1.3)
    ax.set_ylim(0, 1.08)
    ax.set_xlabel("1 / (1 − S) = 1 / density")
    ax.set_ylabel("dimensions per feature")
    fig.legend(handles=handles, fontsize=7.5, frameon=False, loc="outside right center")
    fig.suptitle(title, fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig
