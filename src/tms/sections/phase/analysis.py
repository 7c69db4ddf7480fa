"""§3 (PAPER.md §3) phase diagrams: each model's extra feature labelled, grid points summarised, and the
kink of the loss where the best model leaves superposition.

The extra feature is the last one. Each model is labelled by it:

- ``not_represented``: ‖W_extra‖ < :data:`tms.layout.REPRESENTED_NORM` (the threshold of models.csv too);
- ``superposition``: represented and Σ_{j≠extra} (Ŵ_extra · W_j)² ≥ SUPERPOSITION_THRESHOLD;
- ``dedicated``: represented without that interference.

A grid point drops its highest-loss model (as in the paper) and takes the majority label of the rest (ties:
the label of the lowest-loss model among the tied ones). Tables (losses in the paper's normalisation, a sum
over features: :func:`tms.theory.paper_loss`):

- ``phase_models.csv``: every model of the grid runs and of the density sweep;
- ``phase.csv``: one row per model type and grid point, with the theory's label;
- ``kink.csv``: the slope jump of the best trained loss at the switch (S3-3), the same fit to the theory, and
  the closed-form crossings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from tms import theory
from tms.layout import REPRESENTED_NORM
from tms.metrics import feature_norms, superposition
from tms.tables import Column, Schema
from tms.analysis.folder import ExperimentFolder
from tms.analysis.phase_table import PHASE

GRID_RUNS = ("relu", "linear")
"""The grid runs, one per model type; the density sweep is the run ``sweep``."""
SWEEP_RUN = "sweep"

SUPERPOSITION_THRESHOLD = 0.25
"""A represented extra feature is in superposition when the others' summed squared projection on its direction
is at least 0.25 = 0.5²: in 2 -> 1 every W_j is collinear, so this says feature 1 is represented too."""

PHASE_MODELS = Schema("phase_models.csv", (
    Column("run", "str", "relu, linear (the grids) or sweep"), Column("model", "str"), Column("instance", "int"),
    Column("setting", "int"), Column("restart", "int"), Column("relative_importance", "float"),
    Column("density", "float"), Column("loss", "float", "paper normalisation: sum over features"),
    Column("label", "str"), Column("extra_norm", "float"), Column("extra_superposition", "float"),
    Column("extra_overlap", "float", "signed Ŵ_extra·W_j with the feature j that overlaps it most (> 0: the two on "
                                     "the same side; ≈ −1: an antipodal partner)"),
    Column("bias_extra", "float"), Column("best", "bool", "lowest loss of its setting"),
    Column("kept", "bool", "not the dropped highest-loss model of its setting"),
))
KINK = Schema("kink.csv", (
    Column("source", "str", "trained (best model per density), theory (the cheapest candidate at the same "
                            "densities), crossing / crossing_optimal_bias (closed forms, switch only)"),
    Column("relative_importance", "float"), Column("switch", "float"), Column("slope_left", "float"),
    Column("slope_right", "float"), Column("jump", "float"), Column("se", "float"), Column("z", "float"),
))
KINK_WINDOW = 0.45
"""Half-width in ln p of the one-sided line fits around the switch (S3-3)."""
KINK_MIN_POINTS = 3


def classify_extra(W: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """For ``W [inst, hidden, feat]`` (or one ``[hidden, feat]``): the extra (last) feature's label code
    (:data:`tms.theory.LABELS`), its norm and its superposition, each ``[inst]``."""
    norms = feature_norms(W)[..., -1].double()
    sup = superposition(W)[..., -1].double()
    labels = torch.where(
        norms < REPRESENTED_NORM,
        torch.full_like(norms, theory.NOT_REPRESENTED),
        torch.where(sup >= SUPERPOSITION_THRESHOLD, torch.full_like(norms, theory.SUPERPOSITION),
                    torch.full_like(norms, theory.DEDICATED)),
    ).long()
    return labels, norms, sup


@dataclass(frozen=True)
class PointSummary:
    """What a grid point's models say after the highest-loss one is dropped."""

    kept: tuple[int, ...]
    """Positions (in the point's model list) of the models kept."""
    counts: tuple[int, int, int]
    """Kept models per label (not_represented, dedicated, superposition)."""
    label: int
    """Majority label; ties go to the label of the lowest-loss kept model among the tied labels."""


def summarize_point(losses: Sequence[float], labels: Sequence[int]) -> PointSummary:
    """Drop the highest-loss model (when there are at least two) and take the majority label of the rest."""
    losses = [float(v) for v in losses]
    labels = [int(v) for v in labels]
    order = sorted(range(len(losses)), key=lambda k: losses[k])
    kept = tuple(sorted(order[:-1] if len(order) > 1 else order))
    counts = [0, 0, 0]
    for k in kept:
        counts[labels[k]] += 1
    top = max(counts)
    tied = {lab for lab in range(3) if counts[lab] == top}
    label = next(labels[k] for k in order if k in kept and labels[k] in tied)
    return PointSummary(kept=kept, counts=(counts[0], counts[1], counts[2]), label=label)


def line_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(slope, intercept, standard error of the slope) of a least-squares line."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    A = np.stack([x, np.ones_like(x)], axis=1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    dof = max(len(x) - 2, 1)
    s2 = float(resid @ resid) / dof
    se = math.sqrt(s2 / float(((x - x.mean()) ** 2).sum()))
    return float(coef[0]), float(coef[1]), se


def kink(p: np.ndarray, loss: np.ndarray, superposed: np.ndarray) -> dict[str, float]:
    """The slope jump of loss vs ln p where the best model leaves superposition.

    ``p`` ascending; ``superposed`` per point says whether the best model has its extra feature in
    superposition. The switch is between the last superposed point and the next; a line is fitted to the
    points within KINK_WINDOW of it on each side (the switch interval itself excluded), and the jump is the
    left slope minus the right slope, with its standard error from the two fits.
    """
    lp = np.log(p)
    sup_idx = np.flatnonzero(superposed)
    if sup_idx.size == 0 or sup_idx[-1] == len(p) - 1:
        return {"switch": math.nan, "jump": math.nan, "se": math.nan, "z": math.nan}
    k = int(sup_idx[-1])
    switch = float(math.exp((lp[k] + lp[k + 1]) / 2))
    # The points within KINK_WINDOW of the switch on each side, and never fewer than the KINK_MIN_POINTS nearest.
    left = np.flatnonzero((lp <= lp[k]) & (lp >= lp[k] - KINK_WINDOW))
    right = np.flatnonzero((lp >= lp[k + 1]) & (lp <= lp[k + 1] + KINK_WINDOW))
    if len(left) < KINK_MIN_POINTS:
        left = np.arange(max(k + 1 - KINK_MIN_POINTS, 0), k + 1)
    if len(right) < KINK_MIN_POINTS:
        right = np.arange(k + 1, min(k + 1 + KINK_MIN_POINTS, len(p)))
    if len(left) < KINK_MIN_POINTS or len(right) < KINK_MIN_POINTS:
        return {"switch": switch, "jump": math.nan, "se": math.nan, "z": math.nan}
    sl, _, sel = line_fit(lp[left], loss[left])
    sr, _, ser = line_fit(lp[right], loss[right])
    se = math.hypot(sel, ser)
    return {"switch": switch, "slope_left": sl, "slope_right": sr, "jump": sl - sr, "se": se,
            "z": (sl - sr) / se if se > 0 else math.inf}


def extra_overlap(W: Tensor) -> Tensor:
    """``[inst]``: the signed overlap Ŵ_extra·W_j with the other feature j that overlaps the extra one most."""
    Wd = W.double()
    unit_extra = Wd[:, :, -1] / Wd[:, :, -1].norm(dim=1, keepdim=True).clamp_min(1e-12)
    overlap = torch.einsum("ih,ihj->ij", unit_extra, Wd[:, :, :-1])
    return overlap.gather(1, overlap.abs().argmax(dim=1, keepdim=True))[:, 0]


def model_rows(exp: ExperimentFolder, sub: str) -> list[dict[str, Any]]:
    run = exp.run(sub)
    cfg = run.config
    labels, norms, sups = classify_extra(run.W)
    overlap = extra_overlap(run.W)
    loss = theory.paper_loss(run.loss.numpy(), cfg.n_features)
    best = set(run.best_instances())
    kept: set[int] = set()
    for s in range(cfg.n_settings):
        insts = run.setting_instances(s)
        summ = summarize_point(loss[insts], labels[insts].tolist())
        kept.update(insts[k] for k in summ.kept)
    return [{
        "run": sub, "model": cfg.model, "instance": i, "setting": run.instances[i]["setting"],
        "restart": run.instances[i]["restart"], "relative_importance": cfg.importance[run.instances[i]["setting"]][-1],
        "density": cfg.density[run.instances[i]["setting"]][0], "loss": float(loss[i]),
        "label": theory.LABELS[int(labels[i])], "extra_norm": float(norms[i]), "extra_superposition": float(sups[i]),
        "extra_overlap": float(overlap[i]), "bias_extra": float(run.b[i, -1]), "best": i in best, "kept": i in kept,
    } for i in range(cfg.n_instances)]


def point_rows(models: list[dict[str, Any]], n_features: int) -> list[dict[str, Any]]:
    """One row per grid point of one model type's grid (columns of :data:`PHASE`), from its model rows."""
    act = models[0]["model"]
    rs = np.array(sorted({r["relative_importance"] for r in models}))
    ps = np.array(sorted({r["density"] for r in models}))
    diagram = theory.theory_diagram(n_features, rs[:, None], ps[None, :], act)
    near = theory.near_boundary(n_features, rs, ps, act)
    by_setting: dict[int, list[dict[str, Any]]] = {}
    for r in models:
        by_setting.setdefault(r["setting"], []).append(r)
    rows = []
    for s, members in sorted(by_setting.items()):
        kept = [r for r in members if r["kept"]]
        summ = summarize_point([r["loss"] for r in members], [theory.LABELS.index(r["label"]) for r in members])
        a = int(np.searchsorted(rs, members[0]["relative_importance"]))
        c = int(np.searchsorted(ps, members[0]["density"]))
        best = min(members, key=lambda r: r["loss"])
        rows.append({
            "model": act, "relative_importance": float(rs[a]), "density": float(ps[c]),
            "label": theory.LABELS[summ.label], "theory_label": theory.LABELS[int(diagram.labels[a, c])],
            "extra_norm": float(np.mean([r["extra_norm"] for r in kept])),
            "extra_superposition": float(np.mean([r["extra_superposition"] for r in kept])),
            "loss": float(min(r["loss"] for r in members)),
            "n_not_represented": summ.counts[0], "n_dedicated": summ.counts[1], "n_superposition": summ.counts[2],
            "theory_loss": float(diagram.best_loss[a, c]), "near_boundary": bool(near[a, c]),
            "best_label": best["label"],
        })
    return rows


def kink_rows(sweep: list[dict[str, Any]], n_features: int) -> list[dict[str, Any]]:
    """S3-3's numbers from the sweep's model rows: the trained kink, the theory's at the same densities and the
    closed-form crossings (columns of :data:`KINK`)."""
    best = sorted((r for r in sweep if r["best"]), key=lambda r: r["density"])
    p = np.array([r["density"] for r in best])
    loss = np.array([r["loss"] for r in best])
    sup = np.array([r["label"] == "superposition" for r in best])
    r_fixed = best[0]["relative_importance"]
    d = theory.theory_diagram(n_features, r_fixed, p)
    rows = [dict(source="trained", relative_importance=r_fixed, **_kink_row(kink(p, loss, sup))),
            dict(source="theory", relative_importance=r_fixed,
                 **_kink_row(kink(p, d.best_loss, d.labels == theory.SUPERPOSITION)))]
    fine = np.logspace(math.log10(p[0]), math.log10(p[-1]), 20001)
    for name, bias in (("crossing", "paper"), ("crossing_optimal_bias", "optimal")):
        labels = theory.theory_labels(n_features, r_fixed, fine, bias=bias)
        other = labels != theory.SUPERPOSITION
        cross = float(fine[np.argmax(other)]) if other.any() else math.nan
        rows.append(dict(source=name, relative_importance=r_fixed, **_kink_row({"switch": cross})))
    return rows


def _kink_row(k: dict[str, float]) -> dict[str, float]:
    return {c: k.get(c, math.nan) for c in ("switch", "slope_left", "slope_right", "jump", "se", "z")}


def analyze_phase(exp: ExperimentFolder) -> None:
    """Write phase_models.csv, phase.csv and kink.csv from the grid runs and the density sweep."""
    models: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    for sub in GRID_RUNS:
        if exp.has_run(sub):
            rows = model_rows(exp, sub)
            models += rows
            points += point_rows(rows, exp.config(sub).n_features)
    sweep = model_rows(exp, SWEEP_RUN) if exp.has_run(SWEEP_RUN) else []
    exp.write(PHASE_MODELS, models + sweep)
    exp.write(PHASE, points)
    exp.write(KINK, kink_rows(sweep, exp.config(SWEEP_RUN).n_features) if sweep else [])
