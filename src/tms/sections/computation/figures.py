"""§8 figures (PAPER.md §8): the untied |x| model's neurons and the asymmetric-superposition motif.

- :func:`sweep_neurons`: one panel per density of the 100 → 40 sweep, one stacked bar per neuron of its input
  weights, each neuron rescaled so its largest |W₁| weight is 1, neurons sorted by the importance of their largest
  feature, rectangles coloured by the feature's importance rank, negative weights below the axis; polysemantic
  neurons marked;
- :func:`pairs`: the n = 3, m = 6 model's neurons, input weights rescaled the same way and output weights scaled by
  the inverse (so each neuron's input × output gain is kept);
- :func:`motif`: the strongest motif found, as a small circuit: the two features, the neuron that stores both, the
  inhibitory neuron, the two outputs, each edge labelled with its weight.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps
from matplotlib.collections import PatchCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from .analysis import CARRY, DEAD, MOTIFS, NEURONS, PAIRS, PAIRS_RUN, POINTS, POLY, SWEEP_RUN, clearest
from tms.analysis.folder import ExperimentFolder
from tms.plotting.common import mappable, np64
from tms.plotting.neurons import FEATURE_COLORS

RANK_CMAP = "turbo"
RANK_SHOWN = 40
"""Feature colours by importance rank, from the most important (dark blue) to rank 40 and beyond (dark red): the
features the sweep's models represent have ranks below about 40."""


def stacked(ax, rows: np.ndarray, colour) -> float:
    """One bar per row of ``rows [neurons, features]``: positive weights stacked up from 0, negative ones down,
    largest first; ``colour(i)`` colours feature i. Returns the tallest extent. The rectangles go in as one
    collection (thousands of single patches take seconds to draw)."""
    top = 0.0
    boxes, colours = [], []
    for k in range(rows.shape[0]):
        up = down = 0.0
        for i in sorted(range(rows.shape[1]), key=lambda i: -abs(rows[k, i])):
            v = rows[k, i]
            if abs(v) < 1e-3:
                break
            if v >= 0:
                boxes.append(Rectangle((k - 0.4, up), 0.8, v))
                up += v
            else:
                boxes.append(Rectangle((k - 0.4, down + v), 0.8, -v))
                down += v
            colours.append(colour(i))
        top = max(top, up, -down)
    ax.add_collection(PatchCollection(boxes, facecolors=colours, edgecolors="white", linewidths=0.2))
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xlim(-0.6, rows.shape[0] - 0.4)
    return top


def sweep_neurons(exp: ExperimentFolder) -> Figure | None:
    if not exp.has_run(SWEEP_RUN) or not exp.has(NEURONS) or not exp.has(POINTS):
        return None
    r = exp.run(SWEEP_RUN)
    cfg = r.config
    points = sorted(exp.read(POINTS), key=lambda p: -p["density"])
    cells = exp.read(NEURONS)
    cmap, norm = colormaps[RANK_CMAP], Normalize(0, min(RANK_SHOWN, cfg.n_features - 1), clip=True)
    fig = Figure(figsize=(13, 2.0 * len(points) + 1.0))
    axes = []
    extent = 0.0
    for k, p in enumerate(points):
        ax = fig.add_subplot(len(points), 1, k + 1)
        mine = sorted((c for c in cells if c["setting"] == p["setting"]), key=lambda c: c["order"])
        W1 = np64(r.params["W1"][mine[0]["instance"]])
        rows = np.stack([W1[c["neuron"]] / max(c["scale"], 1e-12) for c in mine])
        extent = max(extent, stacked(ax, rows, lambda i: cmap(norm(i))))
        ax.set_xticks(range(len(mine)))
        ax.set_xticklabels([str(c["primary"]) if c["label"] != DEAD else "–" for c in mine], fontsize=6)
        for pos, c in enumerate(mine):
            if c["label"] == POLY:
                ax.plot(pos, 1.12, marker="v", color="#d62728", markersize=3.5, clip_on=False)
        ax.set_ylabel(f"1 − S = {p['density']:g}", fontsize=8)
        ax.set_title(f"{p['polysemantic']} of {p['alive']} neurons polysemantic (▼), {p['mean_carried']:.1f} features "
                     f"per neuron, {p['motifs']} asymmetric-superposition motif(s)", fontsize=8, loc="left")
        axes.append(ax)
    for ax in axes:
        ax.set_ylim(-extent * 1.02, 1.2)
        ax.tick_params(axis="y", labelsize=6)
    axes[-1].set_xlabel("neurons, sorted by the importance of their largest feature (tick: that feature's rank)",
                        fontsize=8)
    fig.subplots_adjust(hspace=0.6, top=1 - 0.75 / (2.0 * len(points) + 1.0), bottom=0.05, left=0.06, right=0.9)
    bar = fig.colorbar(mappable(cmap, norm), ax=axes, fraction=0.015, pad=0.01, extend="max")
    bar.set_label(f"feature importance rank i (I_i = 0.8^i; ≥ {RANK_SHOWN} dark red)", fontsize=8)
    fig.suptitle(f"Untied |x| model, n = {cfg.n_features}, m = {cfg.n_hidden}: each neuron's input weights W₁ "
                 "stacked (rescaled so its largest |w| is 1; negative below the axis), per density", fontsize=10)
    return fig


def pairs(exp: ExperimentFolder) -> Figure | None:
    if not exp.has_run(PAIRS_RUN) or not exp.has(PAIRS):
        return None
    r = exp.run(PAIRS_RUN)
    rows = exp.read(PAIRS)
    best = min(rows, key=lambda row: row["loss"])
    i = best["instance"]
    W1, W2 = np64(r.params["W1"][i]), np64(r.params["W2"][i])
    scale = np.abs(W1).max(axis=1)
    scale[scale == 0] = 1.0
    primary = np.abs(W1).argmax(axis=1)
    order = sorted(range(W1.shape[0]), key=lambda k: (int(primary[k]), -np.sign(W1[k, primary[k]])))
    colour = lambda f: FEATURE_COLORS[f % len(FEATURE_COLORS)]  # noqa: E731
    fig = Figure(figsize=(8.5, 3.4))
    for col, (mat, title) in enumerate([((W1 / scale[:, None])[order], "input weights W₁ (rescaled: largest |w| = 1)"),
                                        ((W2 * scale[None, :]).T[order], "output weights W₂ (scaled by the inverse)")]):
        ax = fig.add_subplot(1, 2, col + 1)
        extent = stacked(ax, mat, colour)
        ax.set_ylim(-extent * 1.1 - 0.05, extent * 1.1 + 0.05)
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels([f"n{k}" for k in order], fontsize=7)
        ax.set_title(title, fontsize=9)
    fig.legend(handles=[Patch(facecolor=colour(f), label=f"feature {f}") for f in range(W1.shape[1])],
               loc="center right", fontsize=8, frameon=False)
    fig.subplots_adjust(right=0.86, wspace=0.25, top=0.8)
    fig.suptitle(f"Untied |x| model, n = {W1.shape[1]}, m = {W1.shape[0]}, 1 − S = {best['density']:g} "
                 f"(lowest loss of {len(rows)}): {best['pairs']} features with a ReLU(x) + ReLU(−x) pair",
                 fontsize=10)
    return fig


def motif(exp: ExperimentFolder) -> Figure | None:
    if not exp.has(MOTIFS):
        return None
    found = exp.read(MOTIFS)
    if not found:
        return None
    top = clearest(found)
    a, b, j, k = top["strong"], top["weak"], top["neuron"], top["inhibitor"]
    W1 = W2 = None
    if exp.has_run(SWEEP_RUN):
        r = exp.run(SWEEP_RUN)
        W1, W2 = np64(r.params["W1"][top["instance"]]), np64(r.params["W2"][top["instance"]])
    fig = Figure(figsize=(8, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    pos = {("in", a): (0, 1), ("in", b): (0, 0), ("h", j): (1, 1), ("h", k): (1, 0), ("out", a): (2, 1),
           ("out", b): (2, 0)}
    edges = [(("in", a), ("h", j), top["w_strong"]), (("in", b), ("h", j), top["w_weak"]),
             (("h", j), ("out", a), top["out_strong"]), (("h", j), ("out", b), top["out_weak"]),
             (("in", a), ("h", k), top["w_inhibitor"]), (("h", k), ("out", b), top["out_inhibitor"])]
    if W1 is not None:  # the inhibitor's other weights on the two features, where they matter
        for (src, dst, w) in [(("in", b), ("h", k), W1[k, b]), (("h", k), ("out", a), W2[a, k])]:
            if abs(w) >= 0.1:
                edges.append((src, dst, float(w)))
    biggest = max(abs(w) for *_, w in edges)
    for src, dst, w in edges:
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        ax.annotate("", xy=(x1 - 0.13, y1 + (y0 - y1) * 0.13), xytext=(x0 + 0.13, y0 + (y1 - y0) * 0.13),
                    arrowprops=dict(arrowstyle="-|>", color="#1f77b4" if w > 0 else "#d62728",
                                    lw=0.8 + 3.2 * abs(w) / biggest, shrinkA=0, shrinkB=0))
        t = 0.45 if y0 == y1 else 0.3
        ax.text(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t + 0.05, f"{w:+.2f}", fontsize=8, ha="center",
                color="#1f77b4" if w > 0 else "#d62728",
                bbox=dict(facecolor="white", edgecolor="none", pad=0.5, alpha=0.85))
    labels = {("in", a): f"x_{a}\n(strong)", ("in", b): f"x_{b}\n(weak)", ("h", j): f"neuron {j}\nstores both",
              ("h", k): f"neuron {k}\ninhibitor", ("out", a): f"y'_{a}", ("out", b): f"y'_{b}"}
    for node, (x, y) in pos.items():
        ax.add_patch(Rectangle((x - 0.13, y - 0.1), 0.26, 0.2, facecolor="#f2f2f2", edgecolor="black", lw=0.8,
                               zorder=3))
        ax.text(x, y, labels[node], ha="center", va="center", fontsize=7.5, zorder=4)
    ax.set_xlim(-0.25, 2.25)
    ax.set_ylim(-0.3, 1.3)
    ax.axis("off")
    ratio_in = abs(top["w_strong"] / top["w_weak"])
    ratio_out = top["out_weak"] / top["out_strong"]
    ax.set_title(f"Asymmetric superposition at 1 − S = {top['density']:g}: input weights {ratio_in:.1f} : 1, "
                 f"output weights 1 : {ratio_out:.1f} (paper: [2, −½], [½, 2], 4 : 1 each);\n"
                 f"neuron {j} writes {top['interference']:+.2f} onto y'_{b} per unit of x_{a}; with the inhibitor the "
                 f"total is {top['net']:+.3f}, which the output ReLU removes (blue: positive, red: negative)",
                 fontsize=8.5)
    return fig


def polysemantic_share(exp: ExperimentFolder) -> Figure | None:
    """The polysemantic share and the features per neuron against 1 − S (S8-2)."""
    if not exp.has(POINTS):
        return None
    pts = sorted(exp.read(POINTS), key=lambda p: -p["density"])
    x = [1 / p["density"] for p in pts]
    fig = Figure(figsize=(6, 3.4))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(x, [p["poly_share"] for p in pts], "o-", color="#d62728", label="polysemantic share of neurons")
    ax.set_xscale("log")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("1 / (1 − S)")
    ax.set_ylabel("polysemantic share", color="#d62728")
    ax2 = ax.twinx()
    ax2.plot(x, [p["mean_carried"] for p in pts], "s--", color="#1f77b4", label="features per neuron")
    ax2.set_ylabel(f"features per neuron (|w| ≥ {CARRY:g} of its largest)", color="#1f77b4")
    ax2.set_ylim(0, max(math.ceil(max(p["mean_carried"] for p in pts)) + 1, 2))
    fig.suptitle("§8: neurons become polysemantic as features get sparser", fontsize=10)
    fig.tight_layout()
    return fig
