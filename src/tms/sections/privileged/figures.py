"""Neuron figures (PAPER.md §7, §8): one stacked bar per neuron, each rectangle one weight (height |w|, colour the
feature, negative weights below the axis), one panel per setting; neurons labelled mono- or polysemantic, features
in superposition outlined. Drawn from the run (weights) and privileged_neurons.csv / features.csv."""

from __future__ import annotations

import math

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from tms.analysis.folder import ExperimentFolder
from tms.analysis.models import FEATURES
from .analysis import MONO, NEURONS, POINTS
from tms.plotting.neurons import FEATURE_COLORS, stacked_neurons

def privileged(exp: ExperimentFolder, run: str = "") -> Figure | None:
    if not exp.has_run(run) or not exp.has(POINTS) or not exp.has(NEURONS):
        return None
    cfg = exp.config(run)
    W = exp.run(run).W
    points = sorted(exp.read(POINTS), key=lambda p: -p["density"])
    cells = exp.read(NEURONS)
    best = {p["setting"]: next(c["instance"] for c in cells if c["setting"] == p["setting"]) for p in points}
    sup = {(f["instance"], f["feature"]) for f in exp.rows(FEATURES, run=run) if f["superposed"]}
    cols = min(5, len(points))
    rows = math.ceil(len(points) / cols)
    fig = Figure(figsize=(2.5 * cols + 1.2, 2.6 * rows + 0.9))
    axes = []
    extent = 0.0
    for k, p in enumerate(points):
        ax = fig.add_subplot(rows, cols, k + 1)
        i = best[p["setting"]]
        labels = [c["label"] for c in sorted((c for c in cells if c["setting"] == p["setting"]),
                                             key=lambda c: c["neuron"])]
        extent = max(extent, stacked_neurons(ax, W[i], {f for (j, f) in sup if j == i},
                                             ["mono" if lab == MONO else "poly" if lab else "" for lab in labels]))
        ax.set_title(f"1 − S = {p['density']:g}: {p['represented']} features,\n{p['polysemantic']} polysemantic "
                     f"neurons ({p['reached']}/{p['restarts']} reach it)", fontsize=7.5)
        axes.append(ax)
    for ax in axes:
        ax.set_ylim(-extent * 1.05, extent * 1.05)
        ax.tick_params(axis="y", labelsize=6)
    handles = [Patch(facecolor=FEATURE_COLORS[i % len(FEATURE_COLORS)], label=f"feature {i}")
               for i in range(cfg.n_features)]
    handles.append(Patch(facecolor="white", edgecolor="black", label="outlined: in superposition"))
    fig.legend(handles=handles, loc="center right", fontsize=7, frameon=False)
    fig.subplots_adjust(right=0.85, hspace=0.55, wspace=0.3)
    fig.suptitle(f"Hidden-ReLU model, n = {cfg.n_features}, m = {cfg.n_hidden}: each neuron's input weights stacked "
                 "(height |w|, negative below the axis), lowest-loss model per density", fontsize=10)
    return fig
