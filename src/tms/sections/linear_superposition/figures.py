"""Figures of section linear-superposition (BEYOND.md ALT): the feature vectors in the plane, the gaps between
their directions against random angles, and the norms against the noise amplitude with the tight-frame theory.
Drawn from the runs' W and from alt_models.csv, alt_gaps.csv and alt_random_hist.csv (:mod:`.analysis`)."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from tms.analysis.folder import ExperimentFolder
from tms.plotting.common import np64, square_frame
from .analysis import FULL_RUN, GAP_TABLE, MODEL_TABLE, RANDOM_HIST_TABLE, TARGET_RUN, WIDE, theory_norm

PANELS = ((TARGET_RUN, "target-only loss"), (FULL_RUN, "full loss (control)"))


def _clean(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _spokes(vectors: np.ndarray, colors) -> LineCollection:
    """Each column of ``vectors [2, k]`` as a line from the origin (one artist for all: a figure of hundreds of
    lines draws in a fraction of the time)."""
    segments = np.stack([np.zeros_like(vectors.T), vectors.T], axis=1)  # [k, 2 points, 2 coords]
    return LineCollection(segments, colors=colors, linewidths=0.8)


def directions(exp: ExperimentFolder) -> Figure | None:
    """Model 0 of each loss: every W_i as a line from the origin; then the same number of evenly spaced directions,
    which is what the post's criterion asks for."""
    runs = [(run, label) for run, label in PANELS if exp.has_run(run)]
    if not runs:
        return None
    fig = Figure(figsize=(4.0 * (len(runs) + 1), 4.4))
    n = 0
    for k, (run, label) in enumerate(runs):
        W = np64(exp.run(run).W[0])
        n = W.shape[1]
        norms = np.linalg.norm(W, axis=0)
        ax = fig.add_subplot(1, len(runs) + 1, k + 1)
        ax.add_collection(_spokes(W, ["C0" if v > 0.5 else "0.6" for v in norms]))
        ax.scatter(W[0], W[1], s=6, color="black", zorder=3)
        square_frame(ax, 1.15 * max(1.0, float(norms.max())))
        ax.set_title(f"{label}\nΣ‖W_i‖² = {float((norms ** 2).sum()):.2f}, {int((norms > 0.5).sum())} of {n} with "
                     "norm > 0.5", fontsize=9)
    ax = fig.add_subplot(1, len(runs) + 1, len(runs) + 1)
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ax.add_collection(_spokes(np.stack([np.cos(theta), np.sin(theta)]), "C2"))
    square_frame(ax, 1.15)
    ax.set_title(f"what the post's criterion asks:\n{n} directions 360°/{n} = {360 / n:.1f}° apart", fontsize=9)
    fig.suptitle("The 100 → 2 linear model's feature vectors W_i (model 0 of each loss)", fontsize=10)
    return fig


def gaps(exp: ExperimentFolder) -> Figure | None:
    """(a) The gaps between neighbouring directions of every target-only model against the density of the gaps of
    n uniform random angles ((n − 1)/360 · (1 − g/360)^(n−2): each gap is 360° · Beta(1, n − 1)); (b) each model's largest gap and (c) smallest gap
    on the distribution of random angles', with the post's band for the smallest."""
    if not exp.has(GAP_TABLE) or not exp.has(RANDOM_HIST_TABLE):
        return None
    mine = [r for r in exp.read(GAP_TABLE) if r["run"] == TARGET_RUN]
    if not mine:
        return None
    models, n = 1 + max(r["instance"] for r in mine), 1 + max(r["index"] for r in mine)
    g = np.zeros((models, n))
    for r in mine:
        g[r["instance"], r["index"]] = r["gap"]
    hist = [r for r in exp.read(RANDOM_HIST_TABLE) if r["n"] == n]
    even = 360.0 / n
    fig = Figure(figsize=(13, 4.0))
    ax = fig.add_subplot(1, 3, 1)
    bins = np.linspace(0, 5 * even, 41)
    ax.hist(g.ravel(), bins=bins, density=True, color="C0", alpha=0.7,
            label=f"trained ({models} models × {n} gaps)")
    x = np.linspace(0, 5 * even, 200)
    ax.plot(x, (n - 1) / 360 * (1 - x / 360) ** (n - 2), color="black", lw=1.2,
            label="uniform random angles (exact)")
    ax.axvline(even, color="C2", ls="--", lw=1, label=f"even spacing {even:.1f}°")
    ax.axvline(WIDE * even, color="0.5", ls=":", lw=1, label=f"{WIDE:g} × 360°/n")
    ax.set_xlabel("gap between neighbouring directions (°)")
    ax.set_ylabel("density")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("(a) gaps: like random angles, not even", fontsize=9)
    stats = (("max_gap", "(b) largest gap (°)", False), ("min_gap", "(c) smallest gap (°), log scale", True))
    for k, (stat, label, log) in enumerate(stats):
        ax = fig.add_subplot(1, 3, k + 2)
        bins_ = [r for r in hist if r["statistic"] == stat]
        edges = [r["lo"] for r in bins_] + [bins_[-1]["hi"]]
        ax.hist([r["lo"] for r in bins_], bins=edges, weights=[r["count"] for r in bins_], color="0.75",
                label=f"{bins_[0]['draws']} draws of {n} random angles")
        for i, v in enumerate(_stat(g, stat)):
            ax.axvline(v, color="C0", lw=1.2, label="trained models" if i == 0 else None)
        if log:
            ax.set_xscale("log")
            ax.axvspan(0.8 * even, 1.2 * even, color="C2", alpha=0.25, label="post's criterion: within 20 % of 3.6°")
        ax.set_xlabel(label)
        ax.legend(fontsize=7, frameon=False)
        _clean(ax)
    fig.suptitle("Target-only loss: the directions' gaps against uniform random angles", fontsize=10)
    fig.subplots_adjust(top=0.84, wspace=0.28)
    return fig


def _stat(g: np.ndarray, stat: str) -> np.ndarray:
    return g.max(axis=1) if stat == "max_gap" else g.min(axis=1)


def noise(exp: ExperimentFolder) -> Figure | None:
    """Median feature norm of every target-only model against the amplitude of the non-target features, with the
    tight-frame theory (:func:`.analysis.theory_norm`) and Σ‖W_i‖² on a second axis."""
    if not exp.has(MODEL_TABLE):
        return None
    rows = sorted((r for r in exp.read(MODEL_TABLE) if r.loss == "target-only"), key=lambda r: r.noise)
    if not rows:
        return None
    cfg = exp.config(rows[0].run)
    n, p = cfg.n_features, cfg.density[0][0]
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter([r.noise for r in rows], [r.median_norm for r in rows], color="C0", zorder=3,
               label="median ‖W_i‖ of a trained model")
    xs = np.geomspace(min(r.noise for r in rows) / 1.5, max(r.noise for r in rows) * 1.5, 100)
    ax.plot(xs, [theory_norm(n, p, v) for v in xs], color="black", lw=1,
            label="tight-frame theory r = √((1/12) / (1/12 + (n/2 − 1) Var x_j))")
    ax.axhline(0.5, color="0.6", ls=":", lw=1)
    ax.set_xscale("log")
    levels = sorted({r.noise for r in rows})
    ax.set_xticks(levels, [f"{v:g}" for v in levels])
    ax.minorticks_off()
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("amplitude of the non-target features (theirs: 0.1)")
    ax.set_ylabel("feature norm")
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    ax.set_title("Target-only loss: norms fall with the noise, as the theory says", fontsize=10)
    _clean(ax)
    return fig
