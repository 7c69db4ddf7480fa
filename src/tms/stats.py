"""Statistics of measured numbers (rank correlations), shared by the analyses and the claims; no model metrics
here (those are :mod:`tms.metrics`, computed from weights)."""

from __future__ import annotations

import math

import numpy as np


def _average_ranks(values: list[float]) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(len(v), dtype=float)
    for value in np.unique(v):  # tied values share their mean rank
        tied = v == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rank correlation of two equally long lists (tied values share their mean rank); NaN for fewer
    than three points or a constant list."""
    if len(x) < 3:
        return math.nan
    rx, ry = _average_ranks(x), _average_ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])
