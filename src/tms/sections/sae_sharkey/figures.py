"""SAE-4 figures: MMCS over dictionary size × λ (Sharkey et al. 2022's figure), dead latents over the same grid,
and each true feature's best |cos| against its frequency rank. Drawn from sharkey_saes.csv and
sharkey_features.csv."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from tms.analysis.folder import ExperimentFolder
from .analysis import FEATURES, SAES


def _grid(exp: ExperimentFolder, column: str) -> tuple[list[int], list[float], np.ndarray]:
    rows = exp.read(SAES)
    sizes = sorted({r["d_sae"] for r in rows})
    lambdas = sorted({r["penalty"] for r in rows})
    value = {(r["d_sae"], r["penalty"]): r[column] for r in rows}
    return sizes, lambdas, np.array([[value[(d, lam)] for lam in lambdas] for d in sizes])


def _heatmap(ax, sizes, lambdas, values, fmt: str, vmax: float) -> None:
    ax.imshow(values, cmap="viridis", vmin=0, vmax=vmax, origin="lower", aspect="auto")
    for i in range(len(sizes)):
        for j in range(len(lambdas)):
            ax.text(j, i, format(values[i, j], fmt), ha="center", va="center", fontsize=9,
                    color="black" if values[i, j] > 0.6 * vmax else "white")
    ax.set_xticks(range(len(lambdas)), [f"{x:g}" for x in lambdas])
    ax.set_yticks(range(len(sizes)), [str(d) for d in sizes])
    ax.set_xlabel("L1 coefficient λ")
    ax.set_ylabel("dictionary size")


def mmcs(exp: ExperimentFolder) -> Figure | None:
    """MMCS of every dictionary against the true directions, size × λ."""
    if not exp.has(SAES):
        return None
    sizes, lambdas, values = _grid(exp, "mmcs")
    n = exp.read(SAES)[0]["n_true"]
    fig = Figure(figsize=(6.0, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    _heatmap(ax, sizes, lambdas, values, ".2f", 1.0)
    ax.set_title(f"MMCS with the {n} true directions: a dictionary at or above the true count recovers them",
                 fontsize=9)
    return fig


def dead(exp: ExperimentFolder) -> Figure | None:
    """Share of latents that never fire on the evaluation stream, size × λ."""
    if not exp.has(SAES):
        return None
    sizes, lambdas, values = _grid(exp, "dead_share")
    fig = Figure(figsize=(6.0, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    _heatmap(ax, sizes, lambdas, values, ".0%", 1.0)
    ax.set_title("Dead latents (never fire on fresh samples): the larger dictionary's surplus dies", fontsize=9)
    return fig


def features(exp: ExperimentFolder) -> Figure | None:
    """Each true feature's best |cos| with each dictionary (λ = 0.1, or the grid's second λ) by frequency rank."""
    if not exp.has(FEATURES):
        return None
    rows = exp.read(FEATURES)
    lambdas = sorted({r["penalty"] for r in rows})
    lam = 0.1 if 0.1 in lambdas else lambdas[min(1, len(lambdas) - 1)]
    sizes = sorted({r["d_sae"] for r in rows})
    fig = Figure(figsize=(8.0, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    for k, d in enumerate(sizes):
        mine = sorted((r for r in rows if r["d_sae"] == d and r["penalty"] == lam), key=lambda r: r["feature"])
        cos = np.array([r["best_cos"] for r in mine])
        window = np.ones(9)
        smooth = np.convolve(cos, window, mode="same") / np.convolve(np.ones_like(cos), window, mode="same")
        color = colormaps["viridis"](k / max(1, len(sizes) - 1))
        ax.scatter([r["feature"] for r in mine], cos, s=3, color=color, alpha=0.35)
        ax.plot([r["feature"] for r in mine], smooth, color=color, lw=1.4, label=f"{d} latents")
    ax.set_xlabel("true feature, by frequency rank (0: most frequent; p ∝ 0.99^i)")
    ax.set_ylabel("best |cos| with a decoder row")
    ax.set_ylim(0, 1.03)
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    ax.set_title(f"Decoder rows against the true directions (λ = {lam:g}): the rare features are the ones missed",
                 fontsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig
