"""Stacked counts: for each group (a density), how many restarts fell in each category (a configuration)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from ..analysis.folder import ExperimentFolder
from ..tables import Schema
from .common import header


def stacked_counts_figure(
    groups: Sequence[str], categories: Sequence[str], counts: Sequence[Sequence[int]], title: str,
    xlabel: str, ylabel: str = "restarts",
) -> Figure:
    """Stacked bars: for each group (e.g. a density), how many restarts fell in each category."""
    fig = Figure(figsize=(max(6.0, 0.75 * len(groups) + 3.0), 3.8))
    ax = fig.add_subplot(1, 1, 1)
    cmap = colormaps["tab10"]
    x = np.arange(len(groups))
    bottom = np.zeros(len(groups))
    data = np.asarray(counts, dtype=float).reshape(len(groups), len(categories))
    for k, cat in enumerate(categories):
        ax.bar(x, data[:, k], bottom=bottom, color=cmap(k % 10), label=cat, width=0.75)
        for xi, (h, b0) in enumerate(zip(data[:, k], bottom)):
            if h > 0:
                ax.text(xi, b0 + h / 2, f"{int(h)}", ha="center", va="center", fontsize=7, color="white")
        bottom += data[:, k]
    ax.set_xticks(x)
    ax.set_xticklabels(groups, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(title, fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def from_table(exp: ExperimentFolder, schema: Schema, group: str, columns: dict[str, str], title: str, xlabel: str,
               group_format: str = "{:.2f}", run: str = "") -> Figure | None:
    """A stacked-counts figure from a table with one row per group: ``group`` names the column of the group
    value, ``columns`` maps each category's name to the column of its count; ``title``'s fields are filled
    from ``run``'s config (:func:`~.common.header`)."""
    if not exp.has(schema) or not exp.has_run(run):
        return None
    rows = exp.read(schema)
    title = header(exp.config(run), title)
    counts = [[row[c] for c in columns.values()] for row in rows]
    return stacked_counts_figure([group_format.format(row[group]) for row in rows], list(columns), counts, title,
                                 xlabel=xlabel)
