"""Figures of section double-descent (BEYOND.md DD, after Henighan et al. 2023's): test and training loss against
T, the dimensionalities of the training points and of the features against T, and the points' hidden vectors
beside the features' vectors at a small, the peak and the largest T. From dd_models.csv, dd_dims.csv
and dd_points.csv (:mod:`.analysis`) and, for the features' vectors, the runs' weights."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from tms.analysis.folder import ExperimentFolder
from tms.plotting.common import np64, square_frame
from .analysis import DIMS_TABLE, MODEL_TABLE, POINTS_INSTANCE, POINTS_TABLE

POINT_COLOR, FEATURE_COLOR = "C3", "C0"


def _clean(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _by_size(exp: ExperimentFolder) -> dict[int, list]:
    out: dict[int, list] = defaultdict(list)
    for r in exp.read(MODEL_TABLE):
        out[r.train_size].append(r)
    return dict(sorted(out.items()))


def losses(exp: ExperimentFolder) -> Figure | None:
    """Test loss (fresh draws) and training loss against T, every model a dot, the mean a line."""
    if not exp.has(MODEL_TABLE):
        return None
    sizes = _by_size(exp)
    if not sizes:
        return None
    n = exp.config(sizes[min(sizes)][0].run).n_features
    fig = Figure(figsize=(7.0, 4.4))
    ax = fig.add_subplot(1, 1, 1)
    for column, color, label in (("test_loss", "black", "test loss (fresh draws)"),
                                 ("train_loss", "0.55", "training loss (the T points)")):
        xs = list(sizes)
        ax.plot(xs, [np.mean([getattr(r, column) for r in rows]) for rows in sizes.values()], "-o", color=color,
                ms=3.5, label=label)
        ax.scatter([T for T, rows in sizes.items() for _ in rows],
                   [getattr(r, column) for rows in sizes.values() for r in rows], s=8, color=color, alpha=0.4)
    ax.axhline(1.0 / n, color="C2", ls="--", lw=1, label=f"predicting 0: 1/n = {1 / n:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training-set size T")
    ax.set_ylabel("loss (mean over features)")
    ax.legend(fontsize=8, frameon=False)
    ax.set_title("Double descent: the test loss peaks between memorising and generalising", fontsize=10)
    _clean(ax)
    return fig


def dimensionality(exp: ExperimentFolder) -> Figure | None:
    """Every training point's D_t and every feature's D_i against T (jittered), with each kind's mean largest."""
    if not exp.has(DIMS_TABLE) or not exp.has(MODEL_TABLE):
        return None
    rows = exp.read(DIMS_TABLE)
    sizes = _by_size(exp)
    rng = np.random.default_rng(0)
    fig = Figure(figsize=(7.5, 4.6))
    ax = fig.add_subplot(1, 1, 1)
    for kind, color, column, label in (("point", POINT_COLOR, "data_dim_max", "training points D_t"),
                                       ("feature", FEATURE_COLOR, "feature_dim_max", "features D_i")):
        sel = [r for r in rows if r.kind == kind and r.dimensionality > 0.01]
        xs = np.array([r.train_size for r in sel], dtype=float) * np.exp(rng.uniform(-0.12, 0.12, len(sel)))
        ax.scatter(xs, [r.dimensionality for r in sel], s=5, color=color, alpha=0.35, label=f"{label} (> 0.01)")
        ax.plot(list(sizes), [np.mean([getattr(r, column) for r in rs]) for rs in sizes.values()], "-o",
                color=color, ms=3, lw=1.3, label=f"mean largest {label.split()[-1]}")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.0)
    ax.set_xlabel("training-set size T")
    ax.set_ylabel("dimensionality")
    ax.legend(fontsize=8, frameon=False, loc="upper center")
    ax.set_title("Small T: the points take the dimensions; large T: the features do", fontsize=10)
    _clean(ax)
    return fig


def vectors(exp: ExperimentFolder) -> Figure | None:
    """Model 0 at the smallest T, the T of the test-loss peak and the largest T: the training points' hidden vectors
    h_t = W x_t (top) and the features' vectors W_i (bottom)."""
    if not exp.has(MODEL_TABLE) or not exp.has(POINTS_TABLE):
        return None
    sizes = _by_size(exp)
    if len(sizes) < 2:
        return None
    points: dict[int, list] = defaultdict(list)
    for p in exp.read(POINTS_TABLE):
        points[p["train_size"]].append(p)
    peak = max(sizes, key=lambda T: np.mean([r.test_loss for r in sizes[T]]))
    chosen = sorted({min(sizes), peak, max(sizes)})
    fig = Figure(figsize=(3.6 * len(chosen), 7.2))
    for k, T in enumerate(chosen):
        run = next(r.run for r in sizes[T] if r.instance == POINTS_INSTANCE)
        W = np64(exp.run(run).W[POINTS_INSTANCE])
        pts = sorted(points[T], key=lambda p: p["index"])
        if not pts:
            return None
        h = np.array([[p["h0"] for p in pts], [p["h1"] for p in pts]])  # [hidden, T]
        for row, (vecs, color, what) in enumerate(((h, POINT_COLOR, "training points' hidden vectors"),
                                                  (W, FEATURE_COLOR, "features' vectors W_i"))):
            ax = fig.add_subplot(2, len(chosen), row * len(chosen) + k + 1)
            norms = np.linalg.norm(vecs, axis=0)
            strong = norms > 0.3 * norms.max()
            for keep, alpha in ((~strong, 0.25), (strong, 0.9)):  # one artist per group: thousands of lines draw fast
                v = vecs[:, keep].T
                ax.add_collection(LineCollection(np.stack([np.zeros_like(v), v], axis=1), colors=color,
                                                 linewidths=0.8, alpha=alpha))
            square_frame(ax, 1.15 * float(norms.max()) if norms.max() > 0 else 1.0)
            tag = "peak" if T == peak else "small T" if T == min(sizes) else "large T"
            ax.set_title(f"T = {T} ({tag}): {what}", fontsize=8)
    fig.suptitle("Memorising (points in a polygon) against generalising (features in a polygon), model 0", fontsize=10)
    return fig
