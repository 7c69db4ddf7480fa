"""Figures, drawn only from stored run folders (never from a training session).

Reusable figure functions for the paper's two views of a toy model:

- :func:`vector_grid_figure`: for m = 2, every W_i drawn as a vector from the origin, coloured by importance
  (the paper's introduction figure);
- :func:`gram_figure`: per model, a bar chart of ‖W_i‖ coloured by the superposition of feature i, the
  n × n heat-map of WᵀW (diverging colours, −1…1, features in importance order) and b as a column beside it
  (the paper's §2 figure).

and :func:`redraw`, behind ``tms plot``: redraw the figures of a run, an experiment or a results folder
without training.

Matplotlib is used through ``matplotlib.figure.Figure`` and the Agg canvas directly (no pyplot), so drawing
needs no display and changes no global backend state.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec
from torch import Tensor

from .errors import RunFolderError
from .metrics import feature_norms, gram, superposition

#: Diverging colour map for WᵀW and b, fixed to −1…1 so panels are comparable.
GRAM_CMAP = "RdBu_r"
#: Importance colours for the 2-D vector panels.
IMPORTANCE_CMAP = "viridis"
#: Superposition colours for the norm bars: black (0, orthogonal to every other feature) to orange-yellow (≥ 1,
#: the others project onto W_i as strongly as feature i itself). Inferno is cut before its near-white end so a
#: bar stays visible on the white background.
SUPERPOSITION_CMAP = ListedColormap(colormaps["inferno"](np.linspace(0.0, 0.85, 256)), name="superposition")
SUPERPOSITION_LABEL = "superposition of feature i, Σ_{j≠i} (Ŵ_i·W_j)²\n(black 0 = orthogonal to all others; yellow ≥ 1)"
FIGURE_FORMATS = ("png", "svg")
FIGURES_DIR = "figures"


# -- saving ----------------------------------------------------------------------------------------------
def save_figure(fig: Figure, folder: Path | str, name: str, dpi: int = 110) -> list[Path]:
    """Save ``fig`` as ``folder/name.png`` and ``.svg``, each written atomically; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    out = []
    for fmt in FIGURE_FORMATS:
        path = folder / f"{name}.{fmt}"
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            # No creation date in the SVG, so redrawing the same run gives the same file.
            meta = {"Date": None} if fmt == "svg" else None
            fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight", metadata=meta)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        out.append(path)
    return out


def _np(x: Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()


# -- 2-D vector panels (introduction figure) -------------------------------------------------------------
def plot_vectors(ax, W: Tensor, importance: Sequence[float], norm: Normalize, lim: float = 1.25) -> None:
    """Draw every column W_i of a ``[2, feat]`` W as a vector from the origin, coloured by importance."""
    if W.shape[0] != 2:
        raise ValueError(f"vector panels need W with 2 hidden dimensions, got shape {tuple(W.shape)}")
    cmap = colormaps[IMPORTANCE_CMAP]
    w = _np(W)
    # Least important first so the most important vectors are drawn on top.
    for i in sorted(range(w.shape[1]), key=lambda i: importance[i]):
        color = cmap(norm(importance[i]))
        ax.plot([0, w[0, i]], [0, w[1, i]], color=color, lw=2.2, solid_capstyle="round", zorder=2)
        ax.scatter([w[0, i]], [w[1, i]], color=color, s=28, zorder=3, edgecolors="black", linewidths=0.4)
    ax.add_patch(_unit_circle())
    ax.axhline(0, color="0.85", lw=0.6, zorder=0)
    ax.axvline(0, color="0.85", lw=0.6, zorder=0)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def _unit_circle():
    from matplotlib.patches import Circle

    return Circle((0, 0), 1.0, fill=False, ls=":", lw=0.7, color="0.6", zorder=1)


def vector_grid_figure(
    Ws: Sequence[Tensor],
    importances: Sequence[Sequence[float]],
    titles: Sequence[str],
    suptitle: str,
    ncols: int = 5,
) -> Figure:
    """One 2-D vector panel per model, in a grid, with a shared importance colour bar."""
    k = len(Ws)
    ncols = max(1, min(ncols, k))
    nrows = math.ceil(k / ncols)
    fig = Figure(figsize=(2.9 * ncols + 1.0, 3.1 * nrows + 0.7))
    all_imp = [v for imp in importances for v in imp]
    lo, hi = min(all_imp), max(all_imp)
    norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1e-9)
    axes = []
    for idx, (W, imp, title) in enumerate(zip(Ws, importances, titles)):
        ax = fig.add_subplot(nrows, ncols, idx + 1)
        plot_vectors(ax, W, imp, norm)
        ax.set_title(title, fontsize=8.5)
        axes.append(ax)
    sm = _mappable(IMPORTANCE_CMAP, norm)
    cb = fig.colorbar(sm, ax=axes, fraction=0.02, pad=0.02)
    cb.set_label("importance I_i")
    fig.suptitle(suptitle, fontsize=11)
    return fig


def _mappable(cmap, norm: Normalize):
    from matplotlib.cm import ScalarMappable

    sm = ScalarMappable(norm=norm, cmap=cmap)
    sm.set_array([])
    return sm


# -- WᵀW heat-map with bias column and norm bars (§2 figure) ---------------------------------------------
def plot_gram(ax_bars, ax_gram, ax_bias, W: Tensor, b: Tensor, feature_labels: bool = True) -> None:
    """Bars of ‖W_i‖ coloured by superposition, the WᵀW heat-map, and b as a column; rows are features in
    importance order (feature 0 at the top), shared by the three panels."""
    n = W.shape[1]
    norms = _np(feature_norms(W))
    sup = _np(superposition(W))
    G = _np(gram(W))
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
    ax_bias.imshow(_np(b)[:, None], cmap=GRAM_CMAP, vmin=-1, vmax=1, interpolation="nearest", aspect="auto")
    ax_bias.set_xticks([])
    ax_bias.set_yticks([])
    ax_bias.set_xlabel("b", fontsize=8)


def _feature_ticks(n: int) -> list[int]:
    step = 1 if n <= 10 else 5 if n <= 40 else 10 if n <= 100 else 20
    return list(range(0, n, step))


def gram_figure(
    Ws: Sequence[Tensor],
    bs: Sequence[Tensor],
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
    for idx, (W, b, title) in enumerate(zip(Ws, bs, titles)):
        r, c = divmod(idx, ncols)
        ax_bars = fig.add_subplot(gs[r, g * c])
        ax_gram = fig.add_subplot(gs[r, g * c + 2])
        ax_bias = fig.add_subplot(gs[r, g * c + 4])
        plot_gram(ax_bars, ax_gram, ax_bias, W, b, feature_labels=(c == 0))
        lo, hi = ax_bars.get_position(), ax_bias.get_position()
        fig.text((lo.x0 + hi.x1) / 2, hi.y1 + 0.08 / height, title, ha="center", va="bottom", fontsize=8.5)
    cb = fig.colorbar(_mappable(GRAM_CMAP, Normalize(-1, 1)), cax=fig.add_subplot(gs[:, -3]))
    cb.set_label("WᵀW and b", fontsize=8)
    cb.ax.tick_params(labelsize=7)
    cb = fig.colorbar(_mappable(SUPERPOSITION_CMAP, Normalize(0, 1)), cax=fig.add_subplot(gs[:, -1]))
    cb.set_label(SUPERPOSITION_LABEL, fontsize=7)
    cb.ax.tick_params(labelsize=7)
    fig.suptitle(suptitle, fontsize=11, y=1 - 0.2 / height, va="top")
    return fig


# -- counts of configurations across restarts --------------------------------------------------------------
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


# -- redrawing stored runs ---------------------------------------------------------------------------------
def _setting_label(density_row: Sequence[float]) -> str:
    p = density_row[0]
    if all(v == p for v in density_row):
        return f"p = {p:.3g} (S = {1 - p:.4g})"
    return f"p = {min(density_row):.3g}…{max(density_row):.3g}"


def run_figures(run_dir: Path | str) -> list[Path]:
    """Generic figures of a plain run (e.g. from ``tms train``) into ``<run>/figures/``: for every setting's
    lowest-loss restart, the WᵀW + b heat-map with norm bars, and the 2-D vector panels when m = 2."""
    from .runs import load_run

    run = load_run(run_dir)
    cfg = run.config
    best = run.best_instances()
    titles = [best_title(run, s, _setting_label(cfg.density[s])) for s in range(cfg.n_settings)]
    head = f"{run.path.name}: n = {cfg.n_features}, m = {cfg.n_hidden}, {cfg.activation}"
    folder = run.path / FIGURES_DIR
    paths = save_figure(
        gram_figure([run.W[i] for i in best], [run.b[i] for i in best], titles, head + " — WᵀW, b and ‖W_i‖"),
        folder, "run_gram",
    )
    if cfg.n_hidden == 2:
        imps = [cfg.importance[s] for s in range(cfg.n_settings)]
        paths += save_figure(
            vector_grid_figure([run.W[i] for i in best], imps, titles, head + " — W_i as 2-D vectors"),
            folder, "run_vectors",
        )
    return paths


def _experiment_dir(run_dir: Path, meta: dict) -> tuple[str, Path] | None:
    """(experiment name, experiment folder) for a run written by ``tms reproduce``, else None."""
    from .experiments import all_experiments

    extra = meta.get("extra") or {}
    name = extra.get("experiment") if isinstance(extra, dict) else None
    if not isinstance(name, str) or name not in all_experiments():
        return None
    sub = extra.get("run") or ""
    exp_dir = run_dir
    for _ in Path(sub).parts:
        exp_dir = exp_dir.parent
    return name, exp_dir


def redraw(path: Path | str) -> list[Path]:
    """Redraw figures without training, from a run folder, an experiment folder or a results folder.

    A run written by an experiment is drawn by that experiment's ``figures`` (on its experiment folder); any
    other run gets the generic figures of :func:`run_figures`. Raises RunFolderError for a missing, corrupt or
    foreign folder, or one with no run in it.
    """
    from .experiments import all_experiments
    from .runs import iter_runs, read_meta

    path = Path(path)
    if not path.exists():
        raise RunFolderError(f"run folder {path}: does not exist")
    if not path.is_dir():
        raise RunFolderError(f"run folder {path}: is not a folder")
    if (path / "config.json").exists():
        run_dirs = [path]
        read_meta(path)  # a corrupt or foreign config.json is an error, not something to skip
    else:
        run_dirs = list(iter_runs(path))
        if not run_dirs:
            raise RunFolderError(f"{path}: no tms run folders in it (expected a run, experiment or results folder)")
    experiments = all_experiments()
    done: set[Path] = set()
    out: list[Path] = []
    for run_dir in run_dirs:
        found = _experiment_dir(run_dir, read_meta(run_dir))
        if found is None:
            out += run_figures(run_dir)
            continue
        name, exp_dir = found
        if exp_dir.resolve() in done:
            continue
        done.add(exp_dir.resolve())
        exp = experiments[name]
        if exp.analyze is not None:
            exp.analyze(exp_dir)
        out += exp.figures(exp_dir)
    return out


def best_title(run, setting: int, label: str) -> str:
    """Panel title: the setting, and which restart is shown (the lowest-loss one) with its loss."""
    i = run.best_instances()[setting]
    r = run.config.restarts
    which = f"best of {r} restarts" if r > 1 else "single run"
    return f"{label}\n{which}, loss {float(run.loss[i]):.3g}"


__all__ = [
    "best_title", "gram_figure", "plot_gram", "plot_vectors", "redraw", "run_figures", "save_figure",
    "stacked_counts_figure", "vector_grid_figure",
]
