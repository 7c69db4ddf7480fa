"""WᵀW heat-maps with norm bars (the paper's §2 figure): per model, a bar chart of ‖W_i‖ coloured by the
superposition of feature i, the n × n heat-map of WᵀW (diverging colours, −1…1, features in importance order)
and b as a column beside it."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec
from torch import Tensor

from ..analysis.folder import ExperimentFolder
from ..analysis.models import FEATURES
from ..model import is_tied
from .common import (
    GRAM_CMAP,
    SUPERPOSITION_CMAP,
    SUPERPOSITION_LABEL,
    best_models,
    best_title,
    header,
    mappable,
    np64,
    setting_label,
)


def plot_gram(ax_bars, ax_gram, ax_bias, W: Tensor, b: Tensor, norms: Sequence[float], sup: Sequence[float],
              feature_labels: bool = True) -> None:
    """Bars of ‖W_i‖ (``norms``) coloured by superposition (``sup``), the WᵀW heat-map, and b as a column; rows
    are features in importance order (feature 0 at the top), shared by the three panels."""
    n = W.shape[1]
    norms, sup = np.asarray(norms, dtype=float), np.asarray(sup, dtype=float)
    w = np64(W)
    G = w.T @ w
    y = np.arange(n)
    colors = SUPERPOSITION_CMAP(np.clip(sup, 0.0, 1.0))
    ax_bars.barh(y, np.clip(norms, 0, 1.3), color=colors, height=0.85, edgecolor="none")
    ax_bars.set_ylim(n - 0.5, -0.5)
    ax_bars.set_xlim(1.3, 0)  # bars grow leftwards, away from the heat-map
    ax_bars.set_xticks([1])  # no 0 tick: it would collide with the heat-map's first tick
    ax_bars.axvline(1.0, color="0.8", lw=0.6, ls=":")
    ax_bars.set_xlabel("‖W_i‖", fontsize=8)
    ax_bars.tick_params(labelsize=7)
    ticks = _feature_ticks(n)
    ax_bars.set_yticks(ticks)
    if not feature_labels:
        ax_bars.set_yticklabels([])
    for side in ("top", "left"):
        ax_bars.spines[side].set_visible(False)
    ax_gram.imshow(G, cmap=GRAM_CMAP, vmin=-1, vmax=1, interpolation="nearest", aspect="auto")
    ax_gram.set_xticks(ticks)
    ax_gram.set_yticks([])
    ax_gram.tick_params(labelsize=7)
    ax_gram.set_xlabel("WᵀW", fontsize=8)
    ax_bias.imshow(np64(b)[:, None], cmap=GRAM_CMAP, vmin=-1, vmax=1, interpolation="nearest", aspect="auto")
    ax_bias.set_xticks([])
    ax_bias.set_yticks([])
    ax_bias.set_xlabel("b", fontsize=8)


def _feature_ticks(n: int) -> list[int]:
    step = 1 if n <= 10 else 5 if n <= 40 else 10 if n <= 100 else 20
    return list(range(0, n, step))


def gram_figure(
    Ws: Sequence[Tensor],
    bs: Sequence[Tensor],
    norms: Sequence[Sequence[float]],
    sups: Sequence[Sequence[float]],
    titles: Sequence[str],
    suptitle: str,
    ncols: int = 7,
) -> Figure:
    """One [norm bars | WᵀW | b] group per model, in a grid, with colour bars for both colour scales.

    The layout is fixed in inches (square heat-maps, bars and bias column as tall as the heat-map), so it
    does not depend on n.
    """
    k = len(Ws)
    ncols = max(1, min(ncols, k))
    nrows = math.ceil(k / ncols)
    # Column widths in inches: bars, gap, heat-map, gap, bias, gap between groups.
    group = [1.0, 0.04, 2.0, 0.06, 0.16, 0.62]
    cbar = [0.14, 0.85, 0.14]  # two colour bars side by side, each as tall as the figure's panels
    left, right = 0.45, 0.85
    heat, title_h, label_h, sup_h = 2.0, 0.62, 0.5, 0.75
    width = left + sum(group) * ncols + sum(cbar) + right
    height = sup_h + nrows * (title_h + heat + label_h)
    fig = Figure(figsize=(width, height))
    gs = GridSpec(
        nrows, len(group) * ncols + len(cbar), figure=fig, width_ratios=group * ncols + cbar, wspace=0.0,
        hspace=(title_h + label_h) / heat, left=left / width, right=1 - right / width,
        top=1 - (sup_h + title_h) / height, bottom=label_h / height,
    )
    g = len(group)
    for idx, (W, b, nm, sp, title) in enumerate(zip(Ws, bs, norms, sups, titles)):
        r, c = divmod(idx, ncols)
        ax_bars = fig.add_subplot(gs[r, g * c])
        ax_gram = fig.add_subplot(gs[r, g * c + 2])
        ax_bias = fig.add_subplot(gs[r, g * c + 4])
        plot_gram(ax_bars, ax_gram, ax_bias, W, b, nm, sp, feature_labels=(c == 0))
        lo, hi = ax_bars.get_position(), ax_bias.get_position()
        fig.text((lo.x0 + hi.x1) / 2, hi.y1 + 0.08 / height, title, ha="center", va="bottom", fontsize=8.5)
    cb = fig.colorbar(mappable(GRAM_CMAP, Normalize(-1, 1)), cax=fig.add_subplot(gs[:, -3]))
    cb.set_label("WᵀW and b", fontsize=8)
    cb.ax.tick_params(labelsize=7)
    cb = fig.colorbar(mappable(SUPERPOSITION_CMAP, Normalize(0, 1)), cax=fig.add_subplot(gs[:, -1]))
    cb.set_label(SUPERPOSITION_LABEL, fontsize=7)
    cb.ax.tick_params(labelsize=7)
    fig.suptitle(suptitle, fontsize=11, y=1 - 0.2 / height, va="top")
    return fig


def best_restarts(exp: ExperimentFolder, run: str, suptitle: str = "{model} model, n = {n} features, m = {m} "
                  "dimensions: ‖W_i‖ bars (colour: superposition), WᵀW and b", ncols: int = 4) -> Figure | None:
    """The lowest-loss restart of every setting of ``run``, in order of increasing sparsity (None when the run
    is missing); bars from features.csv, titles from models.csv."""
    if not exp.has_run(run) or not is_tied(exp.config(run).model):
        return None
    cfg = exp.config(run)
    W, b = exp.run(run).W, exp.run(run).b
    best = best_models(exp, run)
    feats: dict[int, list[dict]] = {}
    for f in exp.rows(FEATURES, run=run):
        feats.setdefault(f["instance"], []).append(f)
    norms, sups = [], []
    for r in best:
        rows = sorted(feats[r["instance"]], key=lambda f: f["feature"])
        norms.append([f["norm"] for f in rows])
        sups.append([f["superposition"] for f in rows])
    titles = [best_title(cfg, r, f"{setting_label(cfg, r)}: {r['n_represented']} represented, "
                                 f"{r['n_superposed']} in superposition") for r in best]
    return gram_figure([W[r["instance"]] for r in best], [b[r["instance"]] for r in best], norms, sups, titles,
                       header(cfg, suptitle), ncols=ncols)
