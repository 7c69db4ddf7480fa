"""What every figure kind shares: colour maps, the panel title of a setting's best restart, and reading the
lowest-loss restart of each setting from ``models.csv``."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import ListedColormap, Normalize
from torch import Tensor

from .. import kinds
from ..analysis.folder import ExperimentFolder
from ..analysis.models import MODELS
from ..config import RunConfig

#: Diverging colour map for WᵀW and b, fixed to −1…1 so panels are comparable.
GRAM_CMAP = "RdBu_r"
#: Importance colours for the 2-D vector panels.
IMPORTANCE_CMAP = "viridis"
#: Superposition colours for the norm bars: black (0, orthogonal to every other feature) to orange-yellow (≥ 1,
#: the others project onto W_i as strongly as feature i itself). Inferno is cut before its near-white end so a
#: bar stays visible on the white background.
SUPERPOSITION_CMAP = ListedColormap(colormaps["inferno"](np.linspace(0.0, 0.85, 256)), name="superposition")
SUPERPOSITION_LABEL = "superposition of feature i, Σ_{j≠i} (Ŵ_i·W_j)²\n(black 0 = orthogonal to all others; yellow ≥ 1)"
SET_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
"""Colours of feature sets (§4 correlated features, §5 dynamics), set k in colour k."""
INDEPENDENT_COLOR = "0.55"


def np64(x: Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()


def square_frame(ax, limit: float) -> None:
    """A square panel for vectors in a plane: both axes from -limit to limit at the same scale, no ticks."""
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def mappable(cmap, norm: Normalize):
    from matplotlib.cm import ScalarMappable

    sm = ScalarMappable(norm=norm, cmap=cmap)
    sm.set_array([])
    return sm


def best_models(exp: ExperimentFolder, run: str) -> list[dict[str, Any]]:
    """models.csv rows of each setting's lowest-loss restart, in order of increasing sparsity (settings whose
    features do not share one density keep their order)."""
    rows = [r for r in exp.rows(MODELS, run=run) if r["best"]]
    return sorted(rows, key=lambda r: (-(r["density"] if r["density"] is not None else 2.0 - r["setting"])))


def best_title(config: RunConfig, row: dict[str, Any], label: str) -> str:
    """Panel title: the setting, and which restart is shown (the lowest-loss one) with its loss."""
    which = f"best of {config.restarts} restarts" if config.restarts > 1 else "single run"
    return f"{label}\n{which}, loss {row['loss']:.3g}"


def setting_label(config: RunConfig, row: dict[str, Any]) -> str:
    """'S = 0.9' for a setting whose features share a density, else its range of densities."""
    if row["density"] is not None:
        return f"S = {1 - row['density']:.4g}"
    dens = config.density[row["setting"]]
    return f"p = {min(dens):.3g}…{max(dens):.3g}"


def header(config: RunConfig, text: str) -> str:
    """``text`` with the fields {n}, {m}, {model} (the family's label in :data:`tms.kinds.MODELS`), {restarts} and
    {decay} (I_1 / I_0 of the first setting), optionally with a format (``{decay:g}``), filled in; other braces are
    left as they are."""
    imp = config.importance[0]
    values = {"n": config.n_features, "m": config.n_hidden, "model": kinds.MODELS.label(config.model),
              "restarts": config.restarts, "decay": round(imp[1] / imp[0], 6) if len(imp) > 1 and imp[0] else 1.0}

    def fill(match: re.Match) -> str:
        key, fmt = match.group(1), match.group(2) or ""
        return format(values[key], fmt) if key in values else match.group(0)

    return re.sub(r"\{(\w+)(?::([^{}]*))?\}", fill, text)
