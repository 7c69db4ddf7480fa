"""§4 figures (the paper's uniform-superposition figures): D* against 1/(1 − S), every feature's D_i over the same
axis with the fractions drawn as lines, and the polytopes found, drawn as small graphs, with how often each
occurs per sparsity. Drawn from geometry_models.csv, geometry_features.csv, geometry_groups.csv and
polytopes.csv (:mod:`tms.sections.geometry.analysis`) and, for the small graphs, the weights of one example each."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from tms import geometry
from tms.analysis.folder import ExperimentFolder
from .analysis import FEATURE_TABLE, GROUP_TABLE, MODEL_TABLE, POLYTOPE_COUNTS
from tms.plotting.common import square_frame

#: One colour per polytope name (in :data:`tms.geometry.POLYTOPE_ORDER`), "other" grey.
POLYTOPE_COLORS = dict(zip(geometry.POLYTOPE_ORDER, [colormaps["tab10"](k) for k in (0, 4, 2, 3, 1, 5, 6)] + ["0.6"]))


def _fraction_lines(ax, which=geometry.FRACTIONS, label: bool = True) -> None:
    for f in which:
        ax.axhline(float(f), color="0.75", lw=0.7, ls="--", zorder=0)
        if label:
            ax.text(1.005, float(f), geometry.fraction_label(f), transform=ax.get_yaxis_transform(), va="center",
                    fontsize=8, color="0.35")


def _log_x(ax, xs) -> None:
    ax.set_xscale("log")
    ax.set_xlim(min(xs) / 1.15, max(xs) * 1.15)
    ax.set_xlabel("1 / (1 − S)   (S: sparsity)")


def dims_per_feature(exp: ExperimentFolder, title: str = "") -> Figure | None:
    """D* of every model against 1/(1 − S), the lowest-loss model per density joined by a line."""
    if not exp.has(MODEL_TABLE):
        return None
    rows = exp.read(MODEL_TABLE)
    fig = Figure(figsize=(8.5, 4.6))
    ax = fig.add_subplot(1, 1, 1)
    _fraction_lines(ax, (geometry.FRACTIONS[0], geometry.FRACTIONS[3], geometry.FRACTIONS[4]))
    xs = [r["inverse_density"] for r in rows]
    ax.scatter(xs, [r["dims_per_feature"] for r in rows], s=14, color="0.6", zorder=2, label="every model")
    best = sorted((r for r in rows if r["best"]), key=lambda r: r["inverse_density"])
    ax.plot([r["inverse_density"] for r in best], [r["dims_per_feature"] for r in best], "-o", color="black", ms=3.5,
            lw=1.2, zorder=3, label="lowest-loss model per density")
    _log_x(ax, xs)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("dimensions per feature D* = m / ‖W‖_F²")
    ax.legend(fontsize=8, frameon=False, loc="upper right")
    ax.set_title(title or "D* against sparsity: it sticks at 1 and at ½", fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def dimensionality_scatter(exp: ExperimentFolder, title: str = "") -> Figure | None:
    """Every represented feature's D_i of every model, coloured by its group's polytope, over 1/(1 − S), with
    the fractions as lines (models of one density spread a little apart so their points do not hide each
    other)."""
    if not exp.has(FEATURE_TABLE):
        return None
    rows = exp.read(FEATURE_TABLE)
    instances = sorted({r["instance"] for r in rows})
    per_density: dict[float, list[int]] = {}
    for r in rows:
        if r["instance"] not in per_density.setdefault(r["density"], []):
            per_density[r["density"]].append(r["instance"])
    offset = {i: 1.0 + 0.025 * (k - (len(v) - 1) / 2) for v in per_density.values() for k, i in enumerate(v)}
    fig = Figure(figsize=(9.5, 5.0))
    ax = fig.add_subplot(1, 1, 1)
    _fraction_lines(ax)
    for name in geometry.POLYTOPE_ORDER:
        sel = [r for r in rows if r["polytope"] == name]
        if sel:
            ax.scatter([offset[r["instance"]] / r["density"] for r in sel], [r["dimensionality"] for r in sel], s=5,
                       color=POLYTOPE_COLORS[name], alpha=0.55, lw=0, label=_legend(name), zorder=2)
    _log_x(ax, [1 / r["density"] for r in rows])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("feature dimensionality D_i")
    ax.legend(fontsize=7.5, frameon=False, loc="upper right", markerscale=2.5)
    ax.set_title(title or f"D_i of every represented feature of {len(instances)} models: they sit on the fractions",
                 fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def _example(exp: ExperimentFolder, run: str, groups: list[dict[str, Any]], name: str):
    """The W columns (projected to 2-D) of the most uniform group of this polytope, or None."""
    cands = [g for g in groups if g["polytope"] == name]
    if not cands:
        return None
    g = min(cands, key=lambda g: g["max_deviation"])
    members = [f["feature"] for f in exp.rows(FEATURE_TABLE, run=run, instance=g["instance"], group=g["group"])]
    W = exp.run(run).W[g["instance"]][:, members].double().numpy()
    u, _, _ = np.linalg.svd(W, full_matrices=False)
    xy = u[:, :2].T @ W if u.shape[1] >= 2 else np.vstack([u[:, :1].T @ W, np.zeros((1, W.shape[1]))])
    return xy, np.abs(W.T @ W), g


def polytopes(exp: ExperimentFolder, run: str = "", title: str = "") -> Figure | None:
    """Top: one example of every polytope found, as a small graph (its features projected on the group's two
    main directions, edges by |W_i · W_j|); bottom: the share of represented features in each polytope per
    density, over all models."""
    if not exp.has(POLYTOPE_COUNTS) or not exp.has(GROUP_TABLE):
        return None
    counts = exp.read(POLYTOPE_COUNTS)
    groups = exp.read(GROUP_TABLE)
    found = [n for n in geometry.POLYTOPE_ORDER if n != "other" and any(g["polytope"] == n for g in groups)]
    fig = Figure(figsize=(11.0, 5.6), layout="constrained")
    top = max(len(found), 1)
    gs = fig.add_gridspec(2, top, height_ratios=[1, 1.5])
    for k, name in enumerate(found):
        ax = fig.add_subplot(gs[0, k])
        xy, w, g = _example(exp, run, groups, name)
        scale = max(float(np.abs(xy).max()), 1e-9)
        for a in range(xy.shape[1]):
            for b in range(a + 1, xy.shape[1]):
                if w[a, b] > geometry.INTERFERENCE:
                    ax.plot(xy[0, [a, b]] / scale, xy[1, [a, b]] / scale, color="0.4", lw=0.4 + 2.0 * min(w[a, b], 1),
                            zorder=1)
        ax.scatter(xy[0] / scale, xy[1] / scale, s=28, color=POLYTOPE_COLORS[name], edgecolors="black",
                   linewidths=0.5, zorder=2)
        square_frame(ax, 1.3)
        ax.set_title(f"{name}\n{g['size']} in {g['dim']} dim, D = {geometry.fraction_label(_frac(g))}", fontsize=8)
    ax = fig.add_subplot(gs[1, :])
    x = np.arange(len(counts))
    bottom = np.zeros(len(counts))
    for name in geometry.POLYTOPE_ORDER:
        col = name.replace(" ", "_")
        share = np.array([r[col] / max(r["represented"], 1) for r in counts])
        if share.any():
            ax.bar(x, share, bottom=bottom, color=POLYTOPE_COLORS[name], width=0.8, label=_legend(name))
            bottom += share
    ax.set_xticks(x)
    ax.set_xticklabels([f"{v:.3g}" if v < 1000 else f"{v:.0f}" for v in (r["inverse_density"] for r in counts)],
                       fontsize=7, rotation=60)
    ax.set_xlabel("1 / (1 − S)")
    ax.set_ylabel("share of represented features")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7.5, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.suptitle(title or "The polytopes found (tegum factors: interference groups of |W_i·W_j| > "
                 f"{geometry.INTERFERENCE:g}) and how often each holds the features, per sparsity", fontsize=10)
    return fig


def _legend(name: str) -> str:
    if name == "other":
        return "another group"
    if name == "dedicated":
        return "alone (no |W_i·W_j| > " f"{geometry.INTERFERENCE:g})"
    return f"in a {name}"


def _frac(g: dict[str, Any]) -> Fraction:
    return Fraction(g["dim"], g["size"])
