"""DD-1 … DD-3 (BEYOND.md DD), read from dd_models.csv (:mod:`.analysis`). DD-1 and DD-2 count failed checks, one
per model and condition; DD-3 is the peak's test loss over the larger of the two ends'."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from tms.analysis.folder import Tables
from tms.claims.base import Claim, Measurement, failed_checks
from .analysis import MODEL_TABLE, POLYGON_TOL

SMALL_T = (3, 5)
"""DD-1 looks at the models trained on these training-set sizes."""
LARGE_T = 1000
"""DD-2 looks at the models trained on this size (the largest of the default grid)."""
DIM_RATIO = 1.5
"""DD-1: the points' largest D_t at least this times the features' largest D_i; DD-2 the reverse."""
PEAK_RATIO = 2.0
"""DD-3: the test loss at the peak at least this times the test loss at either end of the grid."""
LOW_SHARE = 0.5
"""DD-3: at the peak both dimensionalities are low: the points' below this share of theirs at the smallest T, the
features' below this share of theirs at the largest T."""


def _by_size(tables: Tables) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    for r in tables.read(MODEL_TABLE):
        out[r.train_size].append(r)
    return dict(sorted(out.items()))


def dd_1(tables: Tables) -> Measurement:
    checks = []
    for T, rows in _by_size(tables).items():
        if T not in SMALL_T:
            continue
        for r in rows:
            checks.append((f"T = {T}, model {r.instance}: the {r.points_k} large hidden vectors of the {T} points form "
                           f"a regular polygon (worst deviation {r.points_worst:.2f} ≤ {POLYGON_TOL:g}, all {T} in it)",
                           r.points_polygon and r.points_k == T))
            checks.append((f"T = {T}, model {r.instance}: points' largest D_t {r.data_dim_max:.3f} (regular polygon: "
                           f"{2 / T:.3f}) ≥ {DIM_RATIO:g} × features' largest D_i {r.feature_dim_max:.3f}",
                           r.data_dim_max >= DIM_RATIO * r.feature_dim_max))
    if not checks:
        return Measurement(math.nan, note=f"no models at T = {', '.join(map(str, SMALL_T))}")
    return failed_checks(checks)


def dd_2(tables: Tables) -> Measurement:
    rows = _by_size(tables).get(LARGE_T, [])
    checks = []
    for r in rows:
        checks.append((f"T = {LARGE_T}, model {r.instance}: the {r.features_k} large feature vectors form a regular "
                       f"polygon (worst deviation {r.features_worst:.2f} ≤ {POLYGON_TOL:g})", r.features_polygon))
        checks.append((f"T = {LARGE_T}, model {r.instance}: features' largest D_i {r.feature_dim_max:.3f} ≥ "
                       f"{DIM_RATIO:g} × points' largest D_t {r.data_dim_max:.3f}",
                       r.feature_dim_max >= DIM_RATIO * r.data_dim_max))
    if not checks:
        return Measurement(math.nan, note=f"no models at T = {LARGE_T}")
    return failed_checks(checks)


def _mean(rows: list[Any], column: str) -> float:
    return sum(getattr(r, column) for r in rows) / len(rows)


def dd_3(tables: Tables) -> Measurement:
    sizes = _by_size(tables)
    if len(sizes) < 3:
        return Measurement(math.nan, note="fewer than three training-set sizes")
    test = {T: _mean(rows, "test_loss") for T, rows in sizes.items()}
    first, last = min(sizes), max(sizes)
    peak = max(test, key=test.get)
    ratio = test[peak] / max(test[first], test[last])
    data_low = _mean(sizes[peak], "data_dim_max") <= LOW_SHARE * _mean(sizes[first], "data_dim_max")
    feat_low = _mean(sizes[peak], "feature_dim_max") <= LOW_SHARE * _mean(sizes[last], "feature_dim_max")
    inside = first < peak < last
    curve = ", ".join(f"T={T}: {1e3 * v:.2f}" for T, v in test.items())
    note = (f"mean test loss × 1e3 over the models: {curve}; peak at T = {peak}, {ratio:.2f} × the larger end "
            f"({'inside' if inside else 'AT AN END of'} the grid). At the peak the points' largest D_t is "
            f"{_mean(sizes[peak], 'data_dim_max'):.3f} (T = {first}: {_mean(sizes[first], 'data_dim_max'):.3f}) and "
            f"the features' largest D_i {_mean(sizes[peak], 'feature_dim_max'):.3f} (T = {last}: "
            f"{_mean(sizes[last], 'feature_dim_max'):.3f}): both {'low' if data_low and feat_low else 'NOT both low'} "
            f"(below {LOW_SHARE:g} × their own regime's value)")
    value = ratio if inside and data_low and feat_low else 0.0
    return Measurement(value, note=note, detail={"test_loss": test, "peak": peak, "inside": inside,
                                                 "data_low": data_low, "features_low": feat_low})


CLAIMS = (
    Claim("DD-1", "Small training sets: the hidden vectors of the training points form a regular polygon (high "
                  "data-point dimensionality, low feature dimensionality).",
          f"failed checks at T = {', '.join(map(str, SMALL_T))}: the points' large hidden vectors a regular "
          f"T-gon, and their largest D_t ≥ {DIM_RATIO:g} × the features' largest D_i", "<=", 0, dd_1),
    Claim("DD-2", "Large training sets: the reverse: the features form a regular polygon (high feature "
                  "dimensionality, low data-point dimensionality).",
          f"failed checks at T = {LARGE_T}: the large feature vectors a regular polygon, and the features' largest "
          f"D_i ≥ {DIM_RATIO:g} × the points' largest D_t", "<=", 0, dd_2),
    Claim("DD-3", "The test loss peaks at an intermediate T, above both ends, where the two dimensionalities "
                  "cross (both low).",
          f"test loss at the peak T over the larger of the two ends' (0 unless the peak is inside the grid and both "
          f"dimensionalities there are below {LOW_SHARE:g} × their own regime's)", ">=", PEAK_RATIO, dd_3),
)
