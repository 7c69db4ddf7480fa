"""§5 learning dynamics figures: every feature's D_i over training above the loss curve (the paper's
energy-level figure), and the correlated-sets model passing through its regimes into an octahedron. Drawn from
the runs' snapshots (weights) and the dynamics tables (:mod:`tms.sections.dynamics.analysis`)."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from .analysis import FEATURES, LOW_LEVEL, REGIMES, STEPS, SUMMARY, TRAJECTORIES
from tms.analysis.folder import ExperimentFolder
from tms.geometry import FRACTIONS, fraction_label
from tms.plotting.common import SET_COLORS, mappable, np64

REGIME_COLORS = {"pca": "#ff7f0e", "between": "0.85", "octahedron": "#2ca02c"}


def dimensionality(exp: ExperimentFolder, run: str) -> Figure | None:
    """Top: D_i of every represented feature of the lowest-loss model at every snapshot (colour: the step its
    jump ends); bottom: the loss on the fixed sample and how many features are jumping."""
    if not exp.has_run(run) or not exp.has(SUMMARY) or not exp.has(TRAJECTORIES):
        return None
    s = next(r for r in exp.rows(SUMMARY, run=run) if r["best"])
    i = s["instance"]
    paths: dict[int, list[tuple[int, float]]] = {}
    for t in exp.rows(TRAJECTORIES, run=run, instance=i):
        paths.setdefault(t["feature"], []).append((t["step"], t["dimensionality"]))
    feats = [f for f in exp.rows(FEATURES, run=run, instance=i)]
    rows = sorted(exp.rows(STEPS, run=run, instance=i), key=lambda r: r["step"])
    steps = np.array([r["step"] for r in rows])
    ends = [f["jump_end"] for f in feats if f["jump_end"] is not None]
    norm = Normalize(min(ends, default=0), max(ends, default=1))
    cmap = colormaps["viridis"]
    fig = Figure(figsize=(9.5, 6.6))
    gs = fig.add_gridspec(2, 1, height_ratios=(1.6, 1.0), hspace=0.08)
    ax = fig.add_subplot(gs[0])
    x = np.maximum(steps, 1)
    for f in feats:
        color = cmap(norm(f["jump_end"])) if f["jump_end"] is not None else "0.6"
        path = sorted(paths.get(f["feature"], []))
        ax.plot([max(a, 1) for a, _ in path], [d for _, d in path], color=color, lw=0.8, alpha=0.8)
    for q in FRACTIONS:
        ax.axhline(float(q), color="0.75", ls="--", lw=0.6)
        ax.text(x[-1] * 1.05, float(q), fraction_label(q), fontsize=7, va="center", color="0.4")
    ax.axhline(LOW_LEVEL, color="#d62728", ls=":", lw=0.7)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("feature dimensionality D_i")
    ax.tick_params(labelbottom=False)
    cb = fig.colorbar(mappable(cmap, norm), ax=ax, fraction=0.03, pad=0.06)
    cb.set_label("step the jump ends", fontsize=8)
    width = "no jumps" if s["median_width"] is None else f"median jump {s['median_width']:.2f} of the steps before it"
    ax.set_title(f"{s['represented']} represented features of {exp.config(run).n_features} (lowest-loss model): "
                 f"{width}", fontsize=9)
    bottom = fig.add_subplot(gs[1], sharex=ax)
    bottom.plot([max(r["step"], 1) for r in rows], [r["loss"] for r in rows], color="black", lw=1.2)
    bottom.set_ylabel("loss (fixed sample)")
    bottom.set_xlabel("training step")
    late = [r["loss"] for r in rows if r["step"] >= 0.05 * steps[-1]]
    if late:
        lo, hi = min(late), max(late)
        bottom.set_ylim(lo - 0.1 * (hi - lo), hi + 0.3 * (hi - lo))
    twin = bottom.twinx()
    twin.fill_between([max(r["step"], 1) for r in rows], [r["jumping"] for r in rows], color="#1f77b4", alpha=0.2,
                      step="mid")
    twin.set_ylabel("features jumping", color="#1f77b4", fontsize=8)
    fig.suptitle("Learning dynamics of uniform superposition: D_i jumps from the unlearned level to ½ while the "
                 "loss drops", fontsize=10)
    return fig


def _panel(fig, spec, W: np.ndarray, sets: list[list[int]], title: str) -> None:
    """W's columns as 3-D vectors, the axes scaled to the longest (early snapshots are short)."""
    ax = fig.add_subplot(spec, projection="3d")
    color = {f: SET_COLORS[k] for k, fs in enumerate(sets) for f in fs}
    for f in range(W.shape[1]):
        ax.plot([0, W[0, f]], [0, W[1, f]], [0, W[2, f]], color=color.get(f, "0.5"), lw=2)
        ax.scatter([W[0, f]], [W[1, f]], [W[2, f]], color=color.get(f, "0.5"), s=14)
    lim = 1.1 * max(float(np.linalg.norm(W, axis=0).max()), 1e-6)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_zlim(-lim, lim)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_zticks([])
    ax.set_title(title, fontsize=8)


def regimes(exp: ExperimentFolder, run: str) -> Figure | None:
    """Top: the lowest-loss model in 3-D at the start, at its most PCA-like snapshot, at each regime boundary
    and at the end (colour: feature set); bottom: the regime measures over training, shaded by regime."""
    if not exp.has_run(run) or not exp.has(REGIMES):
        return None
    rows = sorted((r for r in exp.rows(REGIMES, run=run) if r["best"]), key=lambda r: r["step"])
    if not rows:
        return None
    i = rows[0]["instance"]
    snaps = exp.run(run).snapshots
    sets = [list(fs.features) for fs in exp.config(run).feature_sets]
    marks = {0: "start", rows[-1]["step"]: "end"}
    peak = max(rows, key=lambda r: r["within_cos"])
    marks.setdefault(peak["step"], "most PCA-like")
    for a, b in zip(rows, rows[1:]):
        if a["regime"] != b["regime"]:
            marks.setdefault(b["step"], f"{b['regime']} begins")
    chosen = sorted(marks)[:6]
    fig = Figure(figsize=(2.6 * len(chosen), 6.4))
    gs = fig.add_gridspec(2, len(chosen), height_ratios=(1.0, 1.0), hspace=0.3)
    for col, step in enumerate(chosen):
        W = np64(snaps.at(step)["W"][i])
        longest = float(np.linalg.norm(W, axis=0).max())
        _panel(fig, gs[0, col], W, sets, f"step {step}: {marks[step]}\n(longest ‖W_i‖ {longest:.2f})")
    ax = fig.add_subplot(gs[1, :])
    x = [max(r["step"], 1) for r in rows]
    for a, b in zip(rows, rows[1:]):
        ax.axvspan(max(a["step"], 1), max(b["step"], 1), color=REGIME_COLORS[a["regime"]], alpha=0.25, lw=0)
    ax.plot(x, [r["within_cos"] for r in rows], color="black", label="mean cos inside a set")
    ax.plot(x, [r["cross_min_cos"] for r in rows], color="#d62728", label="most opposite pair across sets (cos)")
    ax.plot(x, [r["max_dim_deviation"] for r in rows], color="#1f77b4", label="max |D_i − ½|")
    for step in chosen:
        ax.axvline(max(step, 1), color="0.4", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("training step")
    ax.set_ylim(-1.05, 1.05)
    handles, labels = ax.get_legend_handles_labels()
    from matplotlib.patches import Patch

    handles += [Patch(color=c, alpha=0.4) for c in REGIME_COLORS.values()]
    labels += [f"regime: {name}" for name in REGIME_COLORS]
    ax.legend(handles, labels, fontsize=7, loc="lower left", ncol=2)
    fig.suptitle("Two sets of 3 correlated features in m = 3 (lowest-loss model): a PCA-like solution first, an "
                 "octahedron of cross-set antipodal pairs at the end", fontsize=10)
    return fig
