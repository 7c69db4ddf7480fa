"""SAE-1 and SAE-2 figures: the recovery map per family (heat-maps over n/m × density) and SAE-1's best |cos|
per feature (sae_map.csv, sae1_features.csv)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .analysis import MAP, SAE1_FEATURES
from tms.analysis.folder import ExperimentFolder
from tms.kinds import SAE_FAMILIES


def recovery_map(exp: ExperimentFolder) -> Figure | None:
    """One heat-map per family: rows n/m, columns density, colour the share recovered at |cos| ≥ 0.99, text MMCS
    and the true L0."""
    if not exp.has(MAP):
        return None
    rows = exp.read(MAP)
    families = [f for f in SAE_FAMILIES if any(r["family"] == f for r in rows)]
    ns = sorted({r["n"] for r in rows})
    ps = sorted({r["density"] for r in rows})
    fig = Figure(figsize=(3.3 * len(families) + 1.0, 0.9 * len(ns) + 1.8))
    axes = fig.subplots(1, len(families), squeeze=False)[0]
    image = None
    for ax, family in zip(axes, families):
        grid = np.full((len(ns), len(ps)), np.nan)
        for r in rows:
            if r["family"] != family:
                continue
            i, j = ns.index(r["n"]), ps.index(r["density"])
            grid[i, j] = r["recovered"]
            ax.text(j, i, f"{r['mmcs']:.2f}\nL0 {r['true_l0']:.1f}", ha="center", va="center", fontsize=7,
                    color="white" if r["recovered"] < 0.6 else "black")
        image = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", origin="lower", aspect="auto")
        ax.set_xticks(range(len(ps)), [f"{p:g}" for p in ps])
        ax.set_yticks(range(len(ns)), [f"{n / rows[0]['m']:.3g}" for n in ns])
        ax.set_xlabel("density p")
        ax.set_title(SAE_FAMILIES.label(family), fontsize=10)
    axes[0].set_ylabel("features per dimension n / m")
    for ax in axes[1:]:
        ax.tick_params(labelleft=False)
    fig.colorbar(image, ax=list(axes), label="share recovered at |cos| ≥ 0.99", shrink=0.85)
    fig.suptitle(f"Recovery of a trained model's features, m = {rows[0]['m']} (text: MMCS and the true L0)",
                 fontsize=10)
    return fig


def sae1_cosines(exp: ExperimentFolder) -> Figure | None:
    """SAE-1: the distribution of every represented feature's best |cos| with the TopK dictionary."""
    if not exp.has(SAE1_FEATURES):
        return None
    rows = exp.read(SAE1_FEATURES)
    fig = Figure(figsize=(6.0, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    seeds = sorted({r["seed"] for r in rows})
    bins = np.linspace(0.5, 1.0, 51)
    for s in seeds:
        cos = np.array([r["best_cos"] for r in rows if r["seed"] == s])
        ax.hist(cos, bins=bins, histtype="step", lw=1.4, label=f"seed {s}: {np.mean(cos >= 0.99):.0%} ≥ 0.99")
    ax.axvline(0.99, color="0.5", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("best |cos| of a represented feature W_i with a decoder row")
    ax.set_ylabel("features")
    ax.set_title("SAE-1: TopK at the true L0 on the 400 → 30 model, p = 0.01", fontsize=10)
    ax.legend(fontsize=8)
    return fig
