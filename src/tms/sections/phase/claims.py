"""S3-1…S3-4 (PAPER.md §3), read from ``phase.csv``, ``phase_models.csv`` and ``kink.csv``
(:mod:`tms.sections.phase.analysis`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tms import theory
from tms.analysis.folder import Tables
from .analysis import (
    KINK,
    KINK_WINDOW,
    PHASE,
    PHASE_MODELS,
    SUPERPOSITION_THRESHOLD,
    SWEEP_RUN,
)
from tms.claims.base import Claim, Measurement
from tms.layout import REPRESENTED_NORM


def _relu(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["model"] == "relu"]


def s3_1(tables: Tables) -> Measurement:
    rows = _relu(tables.read(PHASE))
    top = max(r["density"] for r in rows)
    dense = [r for r in rows if r["density"] == top]
    cells = sum(r["label"] == "superposition" for r in dense)
    models = sum(r["n_superposition"] for r in dense)
    kept = sum(r["n_not_represented"] + r["n_dedicated"] + r["n_superposition"] for r in dense)
    return Measurement(
        float(cells),
        note=f"ReLU model, p = {top:g}: {cells} of {len(dense)} cells labelled superposition; {models} of {kept} "
             f"kept models have the extra feature in superposition",
        detail={"cells": len(dense), "superposition_models": models, "kept_models": kept},
    )


def agreement(rows: list[dict[str, Any]]) -> tuple[int, int, list[dict[str, Any]]]:
    """(points whose label equals the theory's, points compared, the disagreeing rows), leaving out points
    within one grid step of a theoretical boundary."""
    far = [r for r in rows if not r["near_boundary"]]
    bad = [r for r in far if r["label"] != r["theory_label"]]
    return len(far) - len(bad), len(far), bad


def _describe(bad: list[dict[str, Any]], limit: int = 8) -> str:
    parts = [f"(r={r['relative_importance']:.3g}, p={r['density']:.3g}: {r['label']} vs theory {r['theory_label']}, "
             f"counts {r['n_not_represented']}/{r['n_dedicated']}/{r['n_superposition']})" for r in bad[:limit]]
    more = f" and {len(bad) - limit} more" if len(bad) > limit else ""
    return "; ".join(parts) + more


def _wrong_models(tables: Tables, bad: list[dict[str, Any]]) -> str:
    """What the kept models that disagree with the theory look like, at the disagreeing points: their extra
    feature's norm and its signed overlap Ŵ_extra · W_j with the feature j that overlaps it most (> 0: the two
    on the same side, as in the same-sign local minimum; ≈ -1: an antipodal partner)."""
    if not bad:
        return ""
    models = tables.rows(PHASE_MODELS, run="relu", kept=True)
    wrong: list[dict[str, Any]] = []
    right = total = 0
    for row in bad:
        here = [r for r in models if r["relative_importance"] == row["relative_importance"]
                and r["density"] == row["density"]]
        for r in here:
            total += 1
            if r["label"] == row["theory_label"]:
                right += 1
            else:
                wrong.append(r)
    if not wrong:
        return ""
    norms = np.array([r["extra_norm"] for r in wrong])
    overlap = np.array([r["extra_overlap"] for r in wrong])
    same = int((overlap > 0.05).sum())
    return (f" At the disagreeing points {right} of {total} kept models are in the theory's configuration; the "
            f"other {len(wrong)} have ‖W_extra‖ {float(np.median(norms)):.2f} (median; range "
            f"{float(norms.min()):.2f}–{float(norms.max()):.2f}) and overlap Ŵ_extra·W_j with their most "
            f"overlapping feature {float(np.median(overlap)):+.2f} (median; ≈ -1: an antipodal partner, ≈ 0: one of "
            f"the two dropped); {same} of them have it > 0.05, the two on the same side as in the same-sign local "
            f"minimum.")


def s3_2(tables: Tables) -> Measurement:
    rows = tables.read(PHASE)
    relu = _relu(rows)
    ok, total, bad = agreement(relu)
    far = [r for r in relu if not r["near_boundary"]]
    all_ok = sum(r["label"] == r["theory_label"] for r in relu)
    best_ok = sum(r["best_label"] == r["theory_label"] for r in far)
    kept = sum(r["n_not_represented"] + r["n_dedicated"] + r["n_superposition"] for r in far)
    in_theory = sum(r["n_" + r["theory_label"]] for r in far)
    n = tables.config("relu").n_features
    opt = theory.theory_labels(n, np.array([r["relative_importance"] for r in far]),
                               np.array([r["density"] for r in far]), bias="optimal")
    opt_ok = sum(r["label"] == theory.LABELS[int(c)] for r, c in zip(far, opt))
    note = (f"ReLU model: {ok} of {total} grid points away from a theoretical boundary match the theory "
            f"({len(relu) - total} points within one grid step of a boundary left out; {all_ok} of {len(relu)} "
            f"match when they are counted too). Of the kept models at those {total} points, {in_theory} of {kept} "
            f"({in_theory / max(kept, 1):.1%}) have the theory's label; the lowest-loss model of the point has it at "
            f"{best_ok} of {total} points. Against the theory with the antipodal pair's best bias instead of b = 0: "
            f"{opt_ok} of {total}.")
    if bad:
        note += (" Disagreements (counts not_represented/dedicated/superposition over the kept models): "
                 + _describe(bad) + "." + _wrong_models(tables, bad))
    lin = [r for r in rows if r["model"] == "linear"]
    if lin:
        lok, ltotal, _ = agreement(lin)
        note += f" Linear model against its own theory (drop the less important feature): {lok} of {ltotal}."
    return Measurement(ok / total if total else math.nan, note=note,
                       detail={"matching": ok, "compared": total, "left_out": len(relu) - total,
                               "kept_models_matching": in_theory, "kept_models": kept, "best_model_matching": best_ok,
                               "matching_optimal_bias_theory": opt_ok})


def s3_3(tables: Tables) -> Measurement:
    k = {r["source"]: r for r in tables.read(KINK)}
    if "trained" not in k:
        return Measurement(math.nan, note="no density sweep in the experiment")
    found, th = k["trained"], k["theory"]
    sweep = tables.config(SWEEP_RUN)
    note = (f"ReLU model at r = {found['relative_importance']:g}, best of {sweep.restarts} models at each of "
            f"{sweep.n_settings} densities: the best model leaves superposition at p ≈ {found['switch']:.3g} "
            f"(closed-form crossing {k['crossing']['switch']:.3g} with the paper's b = 0 pair, "
            f"{k['crossing_optimal_bias']['switch']:.3g} with the pair's best bias). Slope of loss vs ln p, fitted "
            f"within {KINK_WINDOW:g} in ln p on each side: {found['slope_left']:.4f} below, "
            f"{found['slope_right']:.4f} above; jump {found['jump']:.4f} ± {found['se']:.4f} "
            f"(z = {found['z']:.1f}); the same fit to the cheapest candidate's closed form gives a jump of "
            f"{th['jump']:.4f}.")
    return Measurement(found["z"], note=note, detail={"trained": found, "theory": th,
                                                      "crossing": k["crossing"]["switch"],
                                                      "crossing_optimal_bias": k["crossing_optimal_bias"]["switch"]})


def s3_4(tables: Tables) -> Measurement:
    rows = [r for r in tables.read(PHASE) if r["model"] == "linear"]
    cells = sum(r["label"] == "superposition" for r in rows)
    models = sum(r["n_superposition"] for r in rows)
    kept = sum(r["n_not_represented"] + r["n_dedicated"] + r["n_superposition"] for r in rows)
    labels = sorted({r["label"] for r in rows})
    return Measurement(
        cells / len(rows) if rows else math.nan,
        note=f"linear model: {cells} of {len(rows)} cells and {models} of {kept} kept models labelled superposition; "
             f"labels seen: {', '.join(labels)}",
        detail={"cells": len(rows), "superposition_cells": cells, "superposition_models": models},
    )


STATEMENTS = {
    "S3-1": "Sparsity is necessary for superposition: at p = 1 no cell is in superposition.",
    "S3-2": "The empirical diagram matches the theoretical one.",
    "S3-3": "The transition is first order: the loss of the best solution has a kink where candidates cross.",
    "S3-4": "The linear model never uses superposition: its diagram is only 'dropped' / 'dedicated'.",
}


def claims(s3_2_threshold: float, sweep_r: float) -> tuple[Claim, ...]:
    rule = (f"extra feature represented when ‖W_extra‖ ≥ {REPRESENTED_NORM:g}, in superposition when also "
            f"Σ_(j≠extra) (Ŵ_extra·W_j)² ≥ {SUPERPOSITION_THRESHOLD:g}; highest-loss model per point dropped, "
            "majority label of the rest")
    return (
        Claim("S3-1", STATEMENTS["S3-1"], f"ReLU cells at p = 1 labelled superposition ({rule})", "<=", 0, s3_1),
        Claim("S3-2", STATEMENTS["S3-2"],
              "share of ReLU grid points whose label equals the theoretical one (cheapest closed-form candidate), "
              "leaving out points within one grid step of a theoretical boundary", ">=", s3_2_threshold, s3_2),
        Claim("S3-3", STATEMENTS["S3-3"],
              f"jump in d(best trained loss)/d(ln p) across the density where the best model leaves superposition, "
              f"at r = {sweep_r:g}, in units of its standard error", ">=", 3.0, s3_3),
        Claim("S3-4", STATEMENTS["S3-4"], f"share of linear-model cells labelled superposition ({rule})", "<=", 0,
              s3_4),
    )
