"""SAE-5 figures: the absorption rate of every run, the decoder rows against the true directions, and the five
families on the hierarchy. Drawn from absorption_saes.csv, absorption_families.csv and absorption_decoders.csv
 (:mod:`.analysis`)."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from tms.analysis.folder import ExperimentFolder
from .analysis import ALIGNED, CONTROL_MAX, DECODERS, FAMILIES, LAMBDAS, SAES, TIED_STRICT_MAX, UNTIED_MIN

GROUPS = (("control", False), ("control", True), ("hierarchy", False), ("hierarchy", True))
FEATURES = ("parent", "child", "other 1", "other 2")


def _clean(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def runs(exp: ExperimentFolder) -> Figure | None:
    """Absorption rate per run, by setting and tying; colour λ, position within a group the seed."""
    if not exp.has(SAES):
        return None
    rows = [r for r in exp.read(SAES) if r["family"] == "relu"]
    fig = Figure(figsize=(8.0, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    colors = {lam: colormaps["viridis"](k / max(1, len(LAMBDAS) - 1)) for k, lam in enumerate(LAMBDAS)}
    for g, (setting, tied) in enumerate(GROUPS):
        mine = [r for r in rows if r["setting"] == setting and r["tied"] == tied]
        seeds = sorted({r["seed"] for r in mine})
        for r in mine:
            x = g + 0.5 * ((seeds.index(r["seed"]) + 0.5) / len(seeds) - 0.5) + 0.04 * LAMBDAS.index(r["penalty"])
            ax.scatter([x], [r["absorption"]], color=colors[r["penalty"]], s=28, zorder=3)
            if tied and setting == "hierarchy":
                ax.scatter([x], [r["strict_absorption"]], facecolor="none", edgecolor="crimson", s=70, zorder=4)
    ax.axhline(UNTIED_MIN, color="0.6", ls="--", lw=0.8)
    ax.axhline(max(CONTROL_MAX, TIED_STRICT_MAX), color="0.6", ls=":", lw=0.8)
    ax.set_xticks(range(len(GROUPS)), [f"{s}\n{'tied' if t else 'untied'}" for s, t in GROUPS])
    ax.set_ylim(-0.05, 1.08)
    ax.set_ylabel("absorption rate\n(parent latent silent | parent and child)")
    for lam, c in colors.items():
        ax.scatter([], [], color=c, s=28, label=f"λ = {lam:g}")
    ax.scatter([], [], facecolor="none", edgecolor="crimson", s=70, label="strict (parent latent aligned)")
    ax.legend(fontsize=8, frameon=False, loc="center left")
    ax.set_title("Absorption rate of every run (groups: seeds; colour: λ; circles: strict absorption, tied)",
                 fontsize=10)
    _clean(ax)
    return fig


def decoders(exp: ExperimentFolder) -> Figure | None:
    """Signed cos of each decoder row with the four true directions, first seed at the middle λ."""
    if not exp.has(DECODERS):
        return None
    lam = LAMBDAS[len(LAMBDAS) // 2]
    table = exp.read(DECODERS)
    fig = Figure(figsize=(10.5, 3.4))
    for p, (setting, tied) in enumerate((("control", False), ("hierarchy", False), ("hierarchy", True))):
        mine = [r for r in table if r["setting"] == setting and r["tied"] == tied and r["penalty"] == lam
                and r["seed"] == 0]
        if not mine:
            return None
        cos = np.zeros((1 + max(r["feature"] for r in mine), 1 + max(r["latent"] for r in mine)))
        for r in mine:
            cos[r["feature"], r["latent"]] = r["cos"]
        order = np.argsort([int(np.argmax(np.abs(cos[:, j]))) + 0.1 * j for j in range(cos.shape[1])])
        cos = cos[:, order]
        ax = fig.add_subplot(1, 3, p + 1)
        ax.imshow(cos, cmap="RdBu_r", vmin=-1, vmax=1)
        for i in range(cos.shape[0]):
            for j in range(cos.shape[1]):
                ax.text(j, i, f"{cos[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if abs(cos[i, j]) > 0.6 else "black")
        ax.set_xticks(range(cos.shape[1]), [f"latent {int(j)}" for j in order], fontsize=7)
        ax.set_yticks(range(len(FEATURES)), FEATURES if p == 0 else [""] * len(FEATURES), fontsize=8)
        rotated = float(np.abs(cos[0]).max()) < ALIGNED
        ax.set_title(f"{setting}, {'tied' if tied else 'untied'} (λ = {lam:g}, seed 0)"
                     + (": a 45° basis" if rotated else ""), fontsize=9)
    fig.suptitle("Decoder rows against the true directions (cos): untied, the child's latent is (parent + child)/√2",
                 fontsize=10)
    return fig


def families(exp: ExperimentFolder) -> Figure | None:
    """Mean MCC per family on the hierarchy (best first), absorption rate beside it."""
    if not exp.has(FAMILIES):
        return None
    rows = sorted(exp.read(FAMILIES), key=lambda r: r["rank"])
    fig = Figure(figsize=(7.0, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    xs = np.arange(len(rows))
    ax.bar(xs - 0.2, [r["mcc"] for r in rows], width=0.4, color="tab:blue", label="MCC (mean over seeds)")
    ax.bar(xs + 0.2, [r["absorption"] for r in rows], width=0.4, color="tab:orange", label="absorption rate")
    ax.set_xticks(xs, [r["family"] for r in rows])
    ax.set_ylim(0, 1.08)
    ax.legend(fontsize=8, frameon=False, loc="upper right")
    ax.set_title("Five families on the hierarchy, ranked by MCC (a ranking, not a claim)", fontsize=10)
    _clean(ax)
    return fig
