"""§2 (PAPER.md §2) per-model measures: how close a model is to the top-m identity, and what it represents.

Table ``<run>_restarts.csv`` per run (``relu_restarts.csv``, ``linear_restarts.csv``): one row per trained
model: its loss, whether it is its setting's best, how many features it represents, how many of those are in
superposition, with a negative or positive bias, or receiving positive interference, and its deviation from
the identity on the top m features (with and without the (m+1)-th feature, for S2-5).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from tms.geometry import TOL
from tms.metrics import gram
from tms.tables import Column, Schema
from tms.analysis.folder import ExperimentFolder
from tms.analysis.models import FEATURES, MODELS

# TOL (tms.geometry) is the one tolerance for "≈" of every section: here on WᵀW entries (S2-1, S2-2), for antipodality
# (1 + cos ≤ TOL) and for positive interference (max_(j≠i) Ŵ_i·W_j > TOL).

#: A bias counts as negative below −BIAS_TOL and positive above +BIAS_TOL: dense models leave the biases of
#: represented features at |b_i| ~ 1e-3, which is noise, not a sign (features are U[0, 1], mean 0.5).
BIAS_TOL = 0.01


def restarts_schema(run: str) -> Schema:
    return Schema(f"{run}_restarts.csv", (
        Column("instance", "int"), Column("setting", "int"), Column("restart", "int"), Column("sparsity", "float"),
        Column("loss", "float"), Column("best", "bool"),
        Column("represented", "int"), Column("superposed", "int"),
        Column("represented_with_negative_bias", "int", f"b_i < −{BIAS_TOL:g}"),
        Column("represented_with_positive_bias", "int", f"b_i > {BIAS_TOL:g}"),
        Column("represented_with_positive_interference", "int", f"max_(j≠i) Ŵ_i·W_j > {TOL:g}"),
        Column("identity_deviation_top_m", "float", "max |WᵀW − diag(1 on the first m features)|"),
        Column("identity_deviation_without_next", "float", "the same leaving out feature m (0-based)"),
        Column("norm_next", "float", "‖W_m‖, the first feature beyond the top m"),
    ))


def identity_deviation(W: Tensor, k: int) -> float:
    """max |WᵀW − diag(1 on the first k features, 0 elsewhere)|: 0 exactly when the k most important
    features are represented orthonormally and the rest not at all. Invariant to rotations of the hidden
    space, as the claim is."""
    G = gram(W).double()
    target = torch.zeros_like(G)
    target[range(k), range(k)] = 1.0
    return float((G - target).abs().max())


def boundary_identity_deviation(W: Tensor, k: int) -> tuple[float, float]:
    """``(deviation, norm)``: :func:`identity_deviation` leaving out the (k+1)-th feature, and that feature's
    norm ‖W_k‖. For importances that fall by only 10 % per feature (S2-5's 0.9^i), the ReLU model at S = 0
    may give the first left-out feature a small share of the last kept one's direction: a slightly lower
    loss than the exact top-k block (measured: ‖W_k‖ ≈ 0.11, overlap 0.10 with feature k-1)."""
    keep = [j for j in range(W.shape[1]) if j != k]
    return identity_deviation(W[:, keep], k), float(W[:, k].norm()) if k < W.shape[1] else 0.0


def restart_rows(exp: ExperimentFolder, sub: str) -> list[dict[str, Any]]:
    run = exp.run(sub)
    m = run.config.n_hidden
    feats: dict[int, list[dict[str, Any]]] = {}
    for f in exp.rows(FEATURES, run=sub):
        feats.setdefault(f["instance"], []).append(f)
    rows = []
    for model in exp.rows(MODELS, run=sub):
        i = model["instance"]
        rep = [f for f in feats[i] if f["represented"]]
        without, norm = boundary_identity_deviation(run.W[i], m)
        rows.append({
            "instance": i, "setting": model["setting"], "restart": model["restart"],
            "sparsity": round(1.0 - model["density"], 6), "loss": model["loss"], "best": model["best"],
            "represented": len(rep), "superposed": sum(f["superposed"] for f in rep),
            "represented_with_negative_bias": sum(f["bias"] < -BIAS_TOL for f in rep),
            "represented_with_positive_bias": sum(f["bias"] > BIAS_TOL for f in rep),
            "represented_with_positive_interference": sum(f["max_overlap"] is not None and f["max_overlap"] > TOL
                                                          for f in rep),
            "identity_deviation_top_m": identity_deviation(run.W[i], m),
            "identity_deviation_without_next": without, "norm_next": norm,
        })
    return rows


def analyze_section2(exp: ExperimentFolder) -> None:
    """Write ``<run>_restarts.csv`` for the linear and the ReLU run (after :func:`~.models.analyze_models`)."""
    for sub in ("linear", "relu"):
        if exp.has_run(sub):
            exp.write(restarts_schema(sub), restart_rows(exp, sub))
