"""§4 correlated and anticorrelated features: 2-D embeddings coloured by feature set, and the collapse of
correlated pairs onto their principal component as density rises. Drawn from the runs (weights) and
correlated_models.csv / correlated_points.csv (:mod:`tms.sections.correlated.analysis`)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure
from torch import Tensor

from .analysis import MODELS, POINTS
from tms.analysis.folder import ExperimentFolder
from tms.plotting.common import INDEPENDENT_COLOR, SET_COLORS, np64, square_frame



def plot_sets(ax, W: Tensor, sets: Sequence[Sequence[int]], lim: float = 1.45, dashed: bool = False) -> None:
    """Every column W_i of a ``[2, feat]`` W as a vector from the origin, coloured by its set (grey: no set),
    labelled with its index."""
    from matplotlib.patches import Circle

    color = {f: SET_COLORS[k % len(SET_COLORS)] for k, fs in enumerate(sets) for f in fs}
    w = np64(W)
    for i in range(w.shape[1]):
        c = color.get(i, INDEPENDENT_COLOR)
        ax.plot([0, w[0, i]], [0, w[1, i]], color=c, lw=2.0, ls="--" if dashed else "-", solid_capstyle="round",
                zorder=2)
        ax.scatter([w[0, i]], [w[1, i]], color=c, s=26, zorder=3, edgecolors="black", linewidths=0.4)
        r = math.hypot(w[0, i], w[1, i])
        if r > 0.2:
            ax.annotate(str(i), (w[0, i] * (1 + 0.17 / r), w[1, i] * (1 + 0.17 / r)), ha="center", va="center",
                        fontsize=7, color=c)
    ax.add_patch(Circle((0, 0), 1.0, fill=False, ls=":", lw=0.7, color="0.6", zorder=1))
    ax.axhline(0, color="0.88", lw=0.6, zorder=0)
    ax.axvline(0, color="0.88", lw=0.6, zorder=0)
    square_frame(ax, lim)


def _best(exp: ExperimentFolder, run: str) -> list[dict]:
    return sorted((m for m in exp.rows(MODELS, run=run) if m["best"]), key=lambda m: m["density"])


def embeddings(exp: ExperimentFolder, panels: Sequence[tuple[str, str, str | None]]) -> Figure | None:
    """One panel per ``(run, title, sets_from)``: the run's lowest-loss fit, coloured by the sets of ``sets_from``
    (or the run's own); runs that are missing or not 2-D are left out."""
    shown = [(run, title, src) for run, title, src in panels
             if exp.has_run(run) and exp.config(run).n_hidden == 2 and exp.has(MODELS)]
    if not shown:
        return None
    fig = Figure(figsize=(3.1 * len(shown), 3.9))
    for k, (run, title, src) in enumerate(shown):
        ax = fig.add_subplot(1, len(shown), k + 1)
        cfg = exp.config(run)
        best = _best(exp, run)[0]
        sets = [fs.features for fs in exp.config(src or run).feature_sets]
        plot_sets(ax, exp.run(run).W[best["instance"]], sets, dashed=src is not None)
        ax.set_title(f"{title}\nn = {cfg.n_features}, density {best['density']:g}, best of {cfg.restarts}\n"
                     f"loss {best['loss']:.3g}", fontsize=8)
    fig.suptitle("Correlated and anticorrelated features in m = 2: lowest-loss fit of each case; colour: feature "
                 "set (dashed: independent features, coloured by the pairs they are compared with)", fontsize=9.5)
    return fig


def collapse(exp: ExperimentFolder, run: str, spec: dict[int, tuple[float, float]], panels: int = 7) -> Figure | None:
    """Top: the lowest-loss fit at ``panels`` densities across the sweep; bottom: collapsed pairs of the
    lowest-loss fit (line) and of every restart (dots, area by count) against density, with the spec's ranges."""
    if not exp.has_run(run) or not exp.has(POINTS):
        return None
    points = sorted(exp.rows(POINTS, run=run), key=lambda p: p["density"])
    if not points:
        return None
    cfg = exp.config(run)
    sets = [fs.features for fs in cfg.feature_sets]
    W = exp.run(run).W
    best = {m["setting"]: m for m in exp.rows(MODELS, run=run) if m["best"]}
    picks = sorted({round(x) for x in np.linspace(0, len(points) - 1, min(panels, len(points)))})
    fig = Figure(figsize=(2.1 * len(picks), 6.2))
    gs = fig.add_gridspec(2, len(picks), height_ratios=(1.0, 1.25), hspace=0.35)
    for col, k in enumerate(picks):
        p = points[k]
        ax = fig.add_subplot(gs[0, col])
        plot_sets(ax, W[best[p["setting"]]["instance"]], sets)
        ax.set_title(f"density {p['density']:.3g}\n{p['best_collapsed']} collapsed", fontsize=8)
    ax = fig.add_subplot(gs[1, :])
    dens = [p["density"] for p in points]
    for k, (lo, hi) in spec.items():
        ax.axvspan(lo, hi, ymin=0, ymax=1, color=SET_COLORS[k - 1], alpha=0.08, lw=0)
        ax.text(math.sqrt(lo * hi), 3.35, f"spec: {k}", ha="center", fontsize=7, color=SET_COLORS[k - 1])
    for k in range(4):
        sizes = [p[f"collapsed_{k}"] for p in points]
        ax.scatter(dens, [k] * len(dens), s=[12 * s for s in sizes], color="0.6", alpha=0.6, zorder=2,
                   label="restarts (area: how many)" if k == 0 else None)
    ax.plot(dens, [p["best_collapsed"] for p in points], "o-", color="black", zorder=3, label="lowest-loss fit")
    ax.set_xscale("log")
    ax.set_yticks(range(4))
    ax.set_ylim(-0.5, 3.6)
    ax.set_xlabel("density 1 − S of every feature")
    ax.set_ylabel("pairs collapsed onto (a + b)/√2")
    ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Three correlated pairs in m = 2 over density ({cfg.restarts} restarts per density): pairs "
                 "collapse onto their principal component as the features get denser", fontsize=9.5)
    return fig
