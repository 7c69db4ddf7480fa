"""§4 non-uniform superposition figures: the fits' 2-D embeddings in one orientation, coloured by the fifth
feature's relative density, and the loss of every fit against that density, coloured by geometry (the two
crossing curves). Drawn from nonuniform_fits.csv and nonuniform_points.csv (:mod:`tms.sections.nonuniform.analysis`)."""

from __future__ import annotations

from matplotlib import colormaps
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from tms.analysis.folder import ExperimentFolder
from .analysis import DIGONS, FITS, LABELS, OTHER, PENTAGON, POINTS, SUMMARY
from .optimal import CROSSING, DEAD, EXACT
from tms.plotting.common import mappable, square_frame

LABEL_COLORS = {PENTAGON: "#1f77b4", DIGONS: "#d62728", OTHER: "0.6"}
LABEL_TEXT = {PENTAGON: "pentagon", DIGONS: "two digons, fifth feature dropped", OTHER: "other"}
DENSITY_CMAP = "coolwarm"
EXACT_TEXT = {PENTAGON: "pentagon", DIGONS: "two digons", DEAD: "two digons, fifth output dead"}
EXACT_STYLE = {PENTAGON: ("#0b3d91", "--"), DIGONS: ("#7f0000", "--"), DEAD: ("#7f0000", ":")}


def embeddings(exp: ExperimentFolder) -> Figure | None:
    """The lowest-loss fit per relative density, rotated and reflected to one orientation, pentagons and digon
    solutions side by side; colour: the fifth feature's relative density; star: the fifth feature."""
    if not exp.has(FITS):
        return None
    best = [f for f in exp.read(FITS) if f["best"]]
    r = [f["relative_density"] for f in best]
    norm = LogNorm(vmin=min(r), vmax=max(r))
    cmap = colormaps[DENSITY_CMAP]
    fig = Figure(figsize=(10.5, 5.0))
    axes = [fig.add_subplot(1, 2, k + 1) for k in range(2)]
    for ax, label in zip(axes, (PENTAGON, DIGONS)):
        sel = [f for f in best if f["label"] == label]
        for f in sel:
            color = cmap(norm(f["relative_density"]))
            xs, ys = [f[f"x_{k}"] for k in range(5)], [f[f"y_{k}"] for k in range(5)]
            for k in range(5):
                ax.plot([0, xs[k]], [0, ys[k]], color=color, lw=0.6, alpha=0.6, zorder=1)
            ax.scatter(xs[:4], ys[:4], color=color, s=16, zorder=2, edgecolors="black", linewidths=0.2)
            if f["norm_4"] > 0.5:
                ax.scatter([xs[4]], [ys[4]], color=color, s=70, marker="*", zorder=3, edgecolors="black",
                           linewidths=0.3)
        ax.add_patch(_circle())
        square_frame(ax, 1.35)
        ax.set_title(f"{LABEL_TEXT[label]}: {len(sel)} of {len(best)} densities", fontsize=9)
    cb = fig.colorbar(mappable(cmap, norm), ax=axes, fraction=0.03, pad=0.02)
    cb.set_label("relative density of the fifth feature (star)")
    fig.suptitle("5 features in 2 dimensions, the fifth feature's density varied: lowest-loss fit per density, "
                 "rotated and reflected to one orientation", fontsize=10)
    return fig


def _circle():
    from matplotlib.patches import Circle

    return Circle((0, 0), 1.0, fill=False, ls=":", lw=0.7, color="0.6", zorder=0)


def losses(exp: ExperimentFolder) -> Figure | None:
    """Every fit's loss against the relative density, coloured by geometry, with each geometry's lowest loss
    per density joined: the pentagon's and the digons' curves cross where the best fit snaps. Dashed: each
    geometry's exact loss-optimal curve (:mod:`.optimal`, where the minimum keeps the geometry) and their crossing
    r*. Left: the losses; right: each relative to the lowest trained loss at its density (the exact curves to the
    lower exact one), which shows the crossing across the whole axis."""
    if not exp.has(FITS) or not exp.has(POINTS):
        return None
    fits, points = exp.read(FITS), exp.read(POINTS)
    snap = exp.read(SUMMARY)[0]["snap"] if exp.has(SUMMARY) else None
    lowest = {p["setting"]: p["best_loss"] for p in points}
    fig = Figure(figsize=(13.0, 4.8))
    axes = [fig.add_subplot(1, 2, k + 1) for k in range(2)]
    for ax, relative in zip(axes, (False, True)):
        top = 1.0
        for label in LABELS:
            sel = [f for f in fits if f["label"] == label]
            if sel:
                ys = [f["loss"] / lowest[f["setting"]] if relative else f["loss"] for f in sel]
                ax.scatter([f["relative_density"] for f in sel], ys, s=7, color=LABEL_COLORS[label], alpha=0.45, lw=0,
                           label=f"{LABEL_TEXT[label]} (every fit)")
            curve = [(p["relative_density"], p[f"{label}_loss"] / (p["best_loss"] if relative else 1.0))
                     for p in points if p[f"{label}_loss"] is not None]
            if curve and label != OTHER:
                xs, ys = zip(*curve)
                ax.plot(xs, ys, "-", color=LABEL_COLORS[label], lw=1.5, label=f"lowest loss: {LABEL_TEXT[label]}")
                top = max(top, max(ys))
        top = max(top, _exact_curves(exp, ax, relative))
        if snap is not None:
            ax.axvline(snap, color="black", lw=0.8, ls=":", label=f"snap: relative density {snap:.2f}")
        ax.set_xscale("log")
        ticks = [0.1, 0.2, 0.5, 1, 2, 5]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("relative density of the fifth feature (its density / 0.05)")
        if relative:
            ax.set_ylim(0.97, min(top, 2.5) * 1.02)
            ax.set_ylabel("loss / lowest loss at that density")
            ax.set_title("the same, relative to the lowest loss at each density", fontsize=9.5)
        else:
            best = [p["best_loss"] for p in points]
            ax.set_ylim(0, 2.2 * max(best))
            ax.set_ylabel("loss")
            ax.set_title("loss of every fit", fontsize=9.5)
            ax.legend(fontsize=7.5, frameon=False, loc="upper left")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.suptitle("The pentagon's and the digons' loss curves cross where the geometry snaps (first order)",
                 fontsize=10.5)
    return fig


def _exact_curves(exp: ExperimentFolder, ax, relative: bool) -> float:
    """Draw the exact loss-optimal curves (the trainer's normalisation: mean over features) where each minimum kept
    its geometry, and r*; with ``relative``, each over the lower of the pentagon's and the digons' exact losses at
    that density (the trained losses' lowest is biased low: the least of 20 noisy evaluations). Returns the
    highest value drawn."""
    if not exp.has(EXACT):
        return 1.0
    curves = {}
    for geometry in (PENTAGON, DIGONS, DEAD):
        keep = PENTAGON if geometry == PENTAGON else DIGONS
        curves[geometry] = {row["relative_density"]: row["loss_mean"] for row in exp.read(EXACT)
                            if row["geometry"] == geometry and row["label"] == keep}
    floor = {r: min(c[r] for c in (curves[PENTAGON], curves[DIGONS]) if r in c)
             for r in set(curves[PENTAGON]) | set(curves[DIGONS])}
    top = 1.0
    for geometry, curve in curves.items():
        rows = sorted((r, y / floor[r] if relative else y) for r, y in curve.items() if r in floor)
        if rows:
            xs, ys = zip(*rows)
            color, ls = EXACT_STYLE[geometry]
            text = "exact optimum" + (" / lower exact optimum" if relative else "")
            ax.plot(xs, ys, ls=ls, color=color, lw=1.1, label=f"{text}: {EXACT_TEXT[geometry]}")
            top = max(top, max(ys))
    star = {row["against"]: row["r_star"] for row in exp.read(CROSSING)} if exp.has(CROSSING) else {}
    if star.get(DIGONS) is not None:
        ax.axvline(star[DIGONS], color="#2ca02c", lw=0.9, ls="--", label=f"exact crossing r* = {star[DIGONS]:.3f}")
    return top
