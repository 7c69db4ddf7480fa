"""The recipe-sensitivity map (``tms robustness --grid ... --heatmap X,Y``): per claim, the share of variants that
pass at each pair of values of two recipe axes (over the other axes: seeds, say), as a heat-map. Drawn from the rows
of ``robustness.csv`` (:mod:`tms.claims.matrix`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure

PASS_CMAP = "RdYlGn"


def _axes_of(variant: str) -> dict[str, str]:
    if "=" not in variant:
        return {}
    return dict(part.split("=", 1) for part in variant.split(","))


def _order(values: set[str]) -> list[str]:
    """Numbers in numeric order, words in alphabetical order."""
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


Cells = dict[tuple[str, str, str, str], tuple[int, int]]


def pass_shares(rows: list[dict[str, Any]], x_key: str, y_key: str
                ) -> tuple[list[str], list[str], list[tuple[str, str]], Cells]:
    """``(x values, y values, claims, {(experiment, claim, x, y): (passed, variants)})`` over the rows whose variant
    sets both keys."""
    cells: Cells = {}
    xs, ys, claims = set(), set(), []
    for r in rows:
        axes = _axes_of(r["variant"])
        if x_key not in axes or y_key not in axes:
            continue
        x, y = axes[x_key], axes[y_key]
        xs.add(x)
        ys.add(y)
        claim = (r["experiment"], r["claim"])
        if claim not in claims:
            claims.append(claim)
        k, n = cells.get((*claim, x, y), (0, 0))
        cells[(*claim, x, y)] = (k + (r["passed"] is True), n + 1)
    return _order(xs), _order(ys), claims, cells


def heatmaps(rows: list[dict[str, Any]], x_key: str, y_key: str) -> Figure | None:
    """One small heat-map per claim: x_key across, y_key down, each cell the share of variants passing (count in
    the cell); None when no variant sets both keys."""
    xs, ys, claims, cells = pass_shares(rows, x_key, y_key)
    if not claims:
        return None
    cols = min(4, len(claims))
    nrows = math.ceil(len(claims) / cols)
    fig = Figure(figsize=(1.0 + 0.55 * len(xs) * cols + 0.6 * cols, 0.9 + (0.4 * len(ys) + 1.1) * nrows),
                 layout="constrained")
    image = None
    for k, (exp, cid) in enumerate(claims):
        ax = fig.add_subplot(nrows, cols, k + 1)
        share = np.full((len(ys), len(xs)), np.nan)
        for i, y in enumerate(ys):
            for j, x in enumerate(xs):
                passed, total = cells.get((exp, cid, x, y), (0, 0))
                if total:
                    share[i, j] = passed / total
                    ax.text(j, i, f"{passed}/{total}", ha="center", va="center", fontsize=6.5)
        image = ax.imshow(share, cmap=PASS_CMAP, vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(xs)))
        ax.set_xticklabels(xs, fontsize=6.5, rotation=45 if max(map(len, xs)) > 4 else 0)
        ax.set_yticks(range(len(ys)))
        ax.set_yticklabels(ys, fontsize=6.5)
        ax.set_title(f"{cid} ({exp})", fontsize=8)
        if k % cols == 0:
            ax.set_ylabel(y_key, fontsize=7)
        if k >= len(claims) - cols:
            ax.set_xlabel(x_key, fontsize=7)
    if image is not None:
        bar = fig.colorbar(image, ax=fig.axes, fraction=0.02, pad=0.02)
        bar.set_label("share of variants passing", fontsize=8)
    fig.suptitle(f"How robust are the claims to the recipe: share passing by {x_key} and {y_key} "
                 "(cells: passing / variants, over the other axes)", fontsize=9)
    return fig
