"""Phase diagrams (the paper's §3 figures): the theory's diagram, the trained models' majority labels and the
continuous colouring, and the loss along a density sweep with its kink. Drawn from phase.csv,
phase_models.csv and kink.csv (:mod:`tms.sections.phase.analysis`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tms import theory
from tms.analysis.folder import ExperimentFolder
from tms.layout import REPRESENTED_NORM
from .analysis import KINK, PHASE, PHASE_MODELS, SWEEP_RUN

LABEL_COLORS = {"not_represented": "#d9d9d9", "dedicated": "#4c72b0", "superposition": "#dd5a2b"}
LABEL_TEXT = {"not_represented": "extra feature not represented", "dedicated": "dedicated dimension",
              "superposition": "superposition"}
THEORY_GRID = 300


def _edges(values: np.ndarray) -> np.ndarray:
    """Cell edges of a log-spaced axis: geometric midpoints, extended by half a step at both ends."""
    lv = np.log(values)
    step = (lv[-1] - lv[0]) / (len(lv) - 1) if len(lv) > 1 else 1.0
    return np.exp(np.concatenate([[lv[0] - step / 2], (lv[:-1] + lv[1:]) / 2, [lv[-1] + step / 2]]))


def _label_rgb(labels: np.ndarray) -> np.ndarray:
    from matplotlib.colors import to_rgb

    table = np.array([to_rgb(LABEL_COLORS[name]) for name in theory.LABELS])
    return table[labels]


def continuous_rgb(norm: np.ndarray, sup: np.ndarray) -> np.ndarray:
    """The paper's continuous colouring: white when the extra feature is not represented (norm 0), blue when
    it is represented without interference, red when in superposition (superposition ≥ 1); mixed in between."""
    from matplotlib.colors import to_rgb

    n = np.clip(norm, 0.0, 1.0)[..., None]
    s = np.clip(sup, 0.0, 1.0)[..., None]
    blue, red = np.array(to_rgb(LABEL_COLORS["dedicated"])), np.array(to_rgb(LABEL_COLORS["superposition"]))
    return (1 - n) * np.ones(3) + n * ((1 - s) * blue + s * red)


def _grid_arrays(rows: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rs = np.array(sorted({r["relative_importance"] for r in rows}))
    ps = np.array(sorted({r["density"] for r in rows}))
    out = np.empty((len(ps), len(rs)), dtype=object)
    for row in rows:
        out[np.searchsorted(ps, row["density"]), np.searchsorted(rs, row["relative_importance"])] = row[key]
    return rs, ps, out


def _theory_background(ax, n: int, activation: str, contours_only: bool, r_range, p_range) -> None:
    """The theoretical diagram on a fine grid (or only its boundaries, as thin black lines)."""
    r = np.logspace(math.log10(r_range[0]), math.log10(r_range[1]), THEORY_GRID)
    p = np.logspace(math.log10(p_range[0]), math.log10(p_range[1]), THEORY_GRID)
    labels = theory.theory_labels(n, r[None, :], p[:, None], activation)
    if not contours_only:
        ax.pcolormesh(_edges(r), _edges(p), _label_rgb(labels), shading="flat", rasterized=True)
    ax.contour(r, p, labels.astype(float), levels=[0.5, 1.5], colors="black", linewidths=0.8,
               linestyles="--" if contours_only else "-")


def _style(ax, title: str, r_range, p_range) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(r_range)
    ax.set_ylim(p_range)
    ax.set_xlabel("relative importance r of the extra feature")
    ax.set_ylabel("density p (1 − sparsity)")
    ax.set_title(title, fontsize=9.5)


def _ranges(rows: list[dict[str, Any]]) -> tuple[tuple[float, float], tuple[float, float]]:
    """The extent of the grid: its smallest and largest r and p."""
    rs = [r["relative_importance"] for r in rows]
    ps = [r["density"] for r in rows]
    return (min(rs), max(rs)), (min(ps), max(ps))


def _label_panel(ax, rows: list[dict[str, Any]], n: int, activation: str, title: str) -> None:
    rs, ps, lab = _grid_arrays(rows, "label")
    codes = np.vectorize(theory.LABELS.index)(lab)
    ax.pcolormesh(_edges(rs), _edges(ps), _label_rgb(codes), shading="flat", edgecolors="white", linewidth=0.3)
    # Mark contested points: the majority label holds at most two thirds of the kept models.
    for row in rows:
        c = (row["n_not_represented"], row["n_dedicated"], row["n_superposition"])
        if sum(c) and 3 * max(c) <= 2 * sum(c):
            ax.plot(row["relative_importance"], row["density"], marker=".", color="black", ms=2.5)
    _theory_background(ax, n, activation, True, *_ranges(rows))
    _style(ax, title, *_ranges(rows))


def _continuous_panel(ax, rows: list[dict[str, Any]], n: int, activation: str, title: str) -> None:
    rs, ps, norm = _grid_arrays(rows, "extra_norm")
    _, _, sup = _grid_arrays(rows, "extra_superposition")
    rgb = continuous_rgb(norm.astype(float), sup.astype(float))
    ax.pcolormesh(_edges(rs), _edges(ps), rgb, shading="flat")
    _theory_background(ax, n, activation, True, *_ranges(rows))
    _style(ax, title, *_ranges(rows))


def _legend(fig, continuous: bool) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=LABEL_COLORS[k], label=LABEL_TEXT[k]) for k in theory.LABELS]
    from matplotlib.lines import Line2D

    handles += [Line2D([], [], color="black", lw=0.8, label="theoretical boundary"),
                Line2D([], [], color="black", marker=".", ls="", ms=4,
                       label="contested: majority ≤ 2/3 of kept models")]
    text = "continuous panel: white = ‖W_extra‖ 0; blue = represented, no interference; red = superposition ≥ 1"
    fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.06))
    if continuous:
        fig.text(0.5, -0.1, text, ha="center", fontsize=8)


def _phase_figure(rows: list[dict[str, Any]], n: int, m: int, activation: str, models: int) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15.5, 5.0))
    axes = [fig.add_subplot(1, 3, k + 1) for k in range(3)]
    _theory_background(axes[0], n, activation, False, *_ranges(rows))
    what = "ReLU" if activation == "relu" else "linear"
    _style(axes[0], f"theory ({what}): cheapest closed-form candidate", *_ranges(rows))
    _label_panel(axes[1], rows, n, activation,
                 f"trained: majority label of the {max(models - 1, 1)} lowest-loss of {models} models")
    _continuous_panel(axes[2], rows, n, activation, "trained: ‖W_extra‖ and superposition (mean of kept models)")
    fig.suptitle(f"{n} features in {m} dimension{'s' if m > 1 else ''}, {what} model: is the extra feature "
                 "represented, and in superposition?", fontsize=11)
    _legend(fig, continuous=True)
    return fig


def _sweep_figure(rows: list[dict[str, Any]], found: dict[str, dict[str, Any]], n: int, m: int) -> Any:
    from matplotlib.figure import Figure

    r_fixed = rows[0]["relative_importance"]
    fig = Figure(figsize=(13.0, 4.8))
    ax, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    p_range = (min(r["density"] for r in rows), max(r["density"] for r in rows))
    p_fine = np.logspace(math.log10(p_range[0]), math.log10(p_range[1]), 400)
    losses = theory.candidate_losses(n, r_fixed, p_fine)
    line_colors = dict(LABEL_COLORS, not_represented="#7f7f7f")
    styles = ["-", "--", "-.", ":"]
    for k, cand in enumerate(theory.candidates(n)):
        ax.plot(p_fine, losses[k], color=line_colors[theory.LABELS[cand.label]], ls=styles[k % 4], lw=1.4,
                label=f"{cand.description}")
    pair = [k for k, c in enumerate(theory.candidates(n)) if c.label == theory.SUPERPOSITION][0]
    ax.plot(p_fine, theory.candidate_losses(n, r_fixed, p_fine, bias="optimal")[pair], color=LABEL_COLORS[
        "superposition"], lw=0.8, alpha=0.6, label="the same pair with its best bias b*(p) > 0")
    ps = np.array([r["density"] for r in rows])
    loss = np.array([r["loss"] for r in rows])
    best = np.array([bool(r["best"]) for r in rows])
    ax.scatter(ps[~best], loss[~best], s=6, color="0.65", zorder=3, label="trained models (all restarts)")
    ax.scatter(ps[best], loss[best], s=14, color="black", zorder=4, label="trained: lowest-loss model per density")
    for axis in (ax, ax2):
        if found.get("crossing") and math.isfinite(found["crossing"]["switch"]):
            axis.axvline(found["crossing"]["switch"], color="black", lw=0.7, ls=":")
        if found.get("trained") and math.isfinite(found["trained"]["switch"]):
            axis.axvline(found["trained"]["switch"], color="#dd5a2b", lw=0.8, ls="--")
        axis.set_xscale("log")
        axis.set_xlabel("density p")
    ax.set_ylabel("expected loss Σ_i I_i (x_i − x'_i)²")
    ax.set_ylim(0, 1.35 * float(loss[best].max()))
    ax.set_title(f"loss at r = {r_fixed:g}: lines closed forms, dots trained\n"
                 "dotted: closed-form crossing; dashed: where the best trained model leaves superposition",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper left", frameon=False)
    norm = np.array([r["extra_norm"] for r in rows])
    sup = np.array([r["extra_superposition"] for r in rows])
    rep = best & (norm >= REPRESENTED_NORM)
    ax2.scatter(ps[best], norm[best], s=16, color="#4c72b0", label="‖W_extra‖")
    ax2.scatter(ps[rep], sup[rep], s=16, color="#dd5a2b", marker="s",
                label="superposition of the extra feature (where represented)")
    ax2.set_ylim(-0.05, 1.35)
    ax2.set_title("the extra feature of the lowest-loss model per density:\nit jumps at the switch "
                  "(first order), it does not fade", fontsize=9)
    ax2.legend(fontsize=7, frameon=False, loc="center right")
    fig.subplots_adjust(top=0.80)
    fig.suptitle(f"{n} features in {m} dimension{'s' if m > 1 else ''}, ReLU model: the loss has a kink where "
                 "the candidates cross (S3-3)", fontsize=11)
    return fig


def diagram(exp: ExperimentFolder, model: str):
    """Theory, majority labels and continuous colouring for one model type's grid (None without that grid)."""
    rows = [r for r in exp.read(PHASE) if r["model"] == model] if exp.has(PHASE) else []
    if not rows or not exp.has_run(model):
        return None
    cfg = exp.config(model)
    return _phase_figure(rows, cfg.n_features, cfg.n_hidden, model, cfg.restarts)


def loss_sweep(exp: ExperimentFolder):
    """The density sweep's losses against the closed forms, and the best model's extra feature (None without
    the sweep)."""
    if not exp.has_run(SWEEP_RUN) or not exp.has(PHASE_MODELS):
        return None
    rows = exp.rows(PHASE_MODELS, run=SWEEP_RUN)
    found = {r["source"]: r for r in exp.read(KINK)}
    cfg = exp.config(SWEEP_RUN)
    return _sweep_figure(rows, found, cfg.n_features, cfg.n_hidden)
