"""2-D vector panels (the paper's introduction figure): for m = 2, every W_i drawn as a vector from the origin,
coloured by importance; one panel per model."""

from __future__ import annotations

import math
from typing import Sequence

from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from torch import Tensor

from ..analysis.folder import ExperimentFolder
from ..model import is_tied
from ..tables import Schema
from .common import (
    IMPORTANCE_CMAP,
    best_models,
    best_title,
    header,
    mappable,
    np64,
    setting_label,
    square_frame,
)


def plot_vectors(ax, W: Tensor, importance: Sequence[float], norm: Normalize, lim: float = 1.25) -> None:
    """Draw every column W_i of a ``[2, feat]`` W as a vector from the origin, coloured by importance."""
    if W.shape[0] != 2:
        raise ValueError(f"vector panels need W with 2 hidden dimensions, got shape {tuple(W.shape)}")
    from matplotlib.patches import Circle

    cmap = colormaps[IMPORTANCE_CMAP]
    w = np64(W)
    # Least important first so the most important vectors are drawn on top.
    for i in sorted(range(w.shape[1]), key=lambda i: importance[i]):
        color = cmap(norm(importance[i]))
        ax.plot([0, w[0, i]], [0, w[1, i]], color=color, lw=2.2, solid_capstyle="round", zorder=2)
        ax.scatter([w[0, i]], [w[1, i]], color=color, s=28, zorder=3, edgecolors="black", linewidths=0.4)
    ax.add_patch(Circle((0, 0), 1.0, fill=False, ls=":", lw=0.7, color="0.6", zorder=1))
    ax.axhline(0, color="0.85", lw=0.6, zorder=0)
    ax.axvline(0, color="0.85", lw=0.6, zorder=0)
    square_frame(ax, lim)


def vector_grid_figure(
    Ws: Sequence[Tensor],
    importances: Sequence[Sequence[float]],
    titles: Sequence[str],
    suptitle: str,
    ncols: int = 5,
    layout: str | None = None,
) -> Figure:
    """One 2-D vector panel per model, in a grid, with a shared importance colour bar. ``layout``: matplotlib's
    layout engine; the report's figures keep the fixed one (None) and are saved cropped to what they hold, while
    :mod:`tms.plot` asks for 'constrained', so that one panel's colour-bar label and titles fit the figure."""
    k = len(Ws)
    ncols = max(1, min(ncols, k))
    nrows = math.ceil(k / ncols)
    fig = Figure(figsize=(2.9 * ncols + 1.0, 3.1 * nrows + 0.7), layout=layout)
    all_imp = [v for imp in importances for v in imp]
    lo, hi = min(all_imp), max(all_imp)
    norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1e-9)
    axes = []
    for idx, (W, imp, title) in enumerate(zip(Ws, importances, titles)):
        ax = fig.add_subplot(nrows, ncols, idx + 1)
        plot_vectors(ax, W, imp, norm)
        ax.set_title(title, fontsize=8.5)
        axes.append(ax)
    cb = fig.colorbar(mappable(IMPORTANCE_CMAP, norm), ax=axes, fraction=0.02, pad=0.02)
    cb.set_label("importance I_i")
    fig.suptitle(suptitle, fontsize=11)
    return fig


def best_restarts(exp: ExperimentFolder, run: str = "", suptitle: str = "{n} features in m = {m} dimensions, "
                  "lowest-loss restart per setting", label: tuple[Schema, str] | None = None) -> Figure | None:
    """The lowest-loss restart of every setting of ``run`` as vector panels (None unless m = 2). ``label``:
    a per-instance table and column whose value is added to each panel's title (the intro's configuration)."""
    if not exp.has_run(run) or exp.config(run).n_hidden != 2 or not is_tied(exp.config(run).model):
        return None
    cfg = exp.config(run)
    W = exp.run(run).W
    best = best_models(exp, run)
    labels = {}
    if label is not None:
        schema, column = label
        labels = {r["instance"]: r[column] for r in exp.read(schema)}
    titles = [best_title(cfg, r, setting_label(cfg, r) + (f": {labels[r['instance']]}" if labels else ""))
              for r in best]
    return vector_grid_figure([W[r["instance"]] for r in best], [cfg.importance[r["setting"]] for r in best], titles,
                              header(cfg, suptitle))
