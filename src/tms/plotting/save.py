"""Saving figures: PNG and SVG, each written atomically (a failed write leaves no partial file)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..files import atomic_write
from ..layout import FIGURE_FORMATS


def save_figure(fig: Figure, folder: Path | str, name: str, dpi: int = 110) -> list[Path]:
    """Save ``fig`` as ``folder/name.png`` and ``.svg``; returns the paths."""
    folder = Path(folder)
    FigureCanvasAgg(fig)
    out = []
    for fmt in FIGURE_FORMATS:
        # No creation date in the SVG, so redrawing the same run gives the same file.
        meta = {"Date": None} if fmt == "svg" else None
        out.append(atomic_write(folder / f"{name}.{fmt}", lambda tmp, fmt=fmt, meta=meta: fig.savefig(
            tmp, format=fmt, dpi=dpi, bbox_inches="tight", metadata=meta)))
    return out
