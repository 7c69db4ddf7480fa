"""Figures of the scaling section, drawn from scaling_models.csv and scaling_fits.csv: the loss against the width
per γ and α with the fitted power laws (Liu, Liu & Gore 2025's Fig. 2), φ½ against γ, and the mean squared overlap
against the width with the 1/m line and the Welch bound."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from tms.analysis.folder import ExperimentFolder
from .analysis import FITS, MODELS, STRONG, WEAK_RANGE

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")


def _by_alpha(rows: list[dict[str, Any]]) -> dict[tuple[float, int | None], list[dict[str, Any]]]:
    """The rows per series: α and length of training."""
    out: dict[tuple[float, int | None], list[dict[str, Any]]] = {}
    for r in sorted(rows, key=lambda r: (r["alpha"], r.get("steps") or 0, r["m"])):
        out.setdefault((r["alpha"], r.get("steps")), []).append(r)
    return out


def _label(series: tuple[float, int | None], all_steps: set) -> str:
    """'α = 2', with the steps when the figure has series of different lengths."""
    alpha, steps = series
    thousands = format(steps or 0, ",").replace(",", " ")
    return f"α = {alpha:g}" + (f", {thousands} steps" if len(all_steps) > 1 and steps else "")


def _width_axis(ax, widths) -> None:
    """Log x axis with a tick at each trained width (matplotlib's minor labels overlap between 30 and 40)."""
    ax.set_xscale("log")
    ax.set_xticks(sorted(widths))
    ax.set_xticklabels([str(m) for m in sorted(widths)])
    ax.xaxis.set_minor_locator(NullLocator())


def _points(ax, rows: list[dict[str, Any]], y: str, color: str, label: str, scale: float = 1.0) -> None:
    """Converged models filled, the others hollow (no claim reads them)."""
    for conv in (True, False):
        sel = [r for r in rows if r["converged"] == conv and r[y] is not None]
        if sel:
            ax.scatter([r["m"] for r in sel], [r[y] * scale for r in sel], s=28, color=color if conv else "none",
                       edgecolors=color, zorder=3, label=label if conv else None)


def loss_against_width(exp: ExperimentFolder) -> Figure | None:
    """Loss (the paper's convention: summed over the n features) against m, log-log, at strong and weak γ."""
    if not exp.has(MODELS):
        return None
    models, fits = exp.read(MODELS), exp.read(FITS)
    gammas = sorted({f["gamma"] for f in fits})
    if not gammas:
        return None
    fig = Figure(figsize=(5.0 * len(gammas), 4.3))
    for k, gamma in enumerate(gammas):
        ax = fig.add_subplot(1, len(gammas), k + 1)
        steps = {r.get("steps") for r in models}
        for c, (series, rows) in enumerate(_by_alpha([r for r in models if r["gamma"] == gamma]).items()):
            color = COLORS[c % len(COLORS)]
            n = rows[0]["n"]
            fit = next((f for f in fits if f["gamma"] == gamma and (f["alpha"], f.get("steps")) == series), None)
            label = _label(series, steps)
            if fit is not None and fit["loss_exponent"] is not None:
                label += f": α_m = {fit['loss_exponent']:.2f}"
            _points(ax, rows, "loss", color, label, scale=n)
            good = [r for r in rows if r["converged"]]
            if fit is not None and fit["loss_exponent"] is not None and good:
                m = np.array([r["m"] for r in good], dtype=float)
                logs = np.log([r["loss"] * n for r in good]) + fit["loss_exponent"] * np.log(m)
                ax.plot(m, np.exp(logs.mean()) * m ** -fit["loss_exponent"], color=color, lw=1.0)
        regime = "strong" if gamma == STRONG else ("weak" if WEAK_RANGE[0] <= gamma <= WEAK_RANGE[1] else "")
        ax.set_yscale("log")
        _width_axis(ax, {r["m"] for r in models if r["gamma"] == gamma})
        ax.set_xlabel("width m")
        ax.set_ylabel("loss (sum over features)")
        ax.set_title(f"γ = {gamma:g}" + (f" ({regime} superposition)" if regime else ""), fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle("Loss against width; lines: power laws fitted over converged models (hollow: not converged)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def phi_against_gamma(exp: ExperimentFolder) -> Figure | None:
    """φ½ (share of features with ‖W_i‖ > ½) against γ, at the width of the γ sweep."""
    if not exp.has(MODELS):
        return None
    models = exp.read(MODELS)
    gammas_per_m: dict[int, set[float]] = {}
    for r in models:
        gammas_per_m.setdefault(r["m"], set()).add(r["gamma"])
    m = max(gammas_per_m, key=lambda k: (len(gammas_per_m[k]), -k))
    fig = Figure(figsize=(5.5, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    series = _by_alpha([r for r in models if r["m"] == m])
    for c, ((alpha, steps), rows) in enumerate(series.items()):
        if len({r["gamma"] for r in rows}) < 2:  # a series trained at one γ only (the long strong runs)
            continue
        rows = sorted(rows, key=lambda r: r["gamma"])
        ax.plot([r["gamma"] for r in rows], [r["phi_half"] for r in rows], "o-", color=COLORS[c % len(COLORS)],
                label=f"α = {alpha:g}")
    ax.axvspan(*WEAK_RANGE, color="0.9", zorder=0, label="weak range of SCALE-2")
    ax.set_xlabel("γ (Liu, Liu & Gore's decay of W; < 0: norms pulled to 1)")
    ax.set_ylabel("φ½: share of features with ‖W_i‖ > ½")
    ax.set_ylim(-0.03, 1.05)
    ax.set_title(f"Represented features against γ, m = {m}, n = {models[0]['n']}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def overlap_against_width(exp: ExperimentFolder) -> Figure | None:
    """Mean squared overlap of the feature vectors against m in strong superposition, with 1/m and the Welch
    bound."""
    if not exp.has(MODELS):
        return None
    strong = [r for r in exp.read(MODELS) if r["gamma"] == STRONG]
    if not strong:
        return None
    fig = Figure(figsize=(5.5, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    steps = {r.get("steps") for r in strong}
    for c, (series, rows) in enumerate(_by_alpha(strong).items()):
        _points(ax, rows, "overlap", COLORS[c % len(COLORS)], _label(series, steps))
    ms = np.array(sorted({r["m"] for r in strong}), dtype=float)
    n = strong[0]["n"]
    grid = np.geomspace(ms.min(), ms.max(), 50)
    ax.plot(grid, (n - grid) / (grid * (n - 1)), "k--", lw=1.0, label="Welch bound (n − m)/(m (n − 1))")
    ax.plot(grid, 1.0 / grid, color="0.5", lw=1.0, label="1/m")
    ax.set_yscale("log")
    _width_axis(ax, ms.astype(int).tolist())
    ax.set_xlabel("width m")
    ax.set_ylabel("mean squared overlap (Ŵ_i · Ŵ_j)²")
    ax.set_title(f"Strong superposition (γ = {STRONG:g}): overlap of the {n} feature vectors", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
