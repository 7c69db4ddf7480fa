"""Per-instance, per-feature metrics of PAPER.md §0 as pure functions of ``W [inst, hidden, feat]``.

Every function also accepts a single model ``[hidden, feat]`` and then drops the instance axis.
:func:`feature_measures` gathers them into the per-feature rows that ``features.csv`` holds (and
:meth:`tms.results.Results.table` gives); :func:`paper_loss` turns a loss into the paper's convention.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from .layout import REPRESENTED_NORM, SUPERPOSED

_EPS = 1e-12


def _batched(W: Tensor) -> tuple[Tensor, bool]:
    if W.ndim == 2:
        return W[None], True
    if W.ndim == 3:
        return W, False
    raise ValueError(f"W must be [hidden, feat] or [inst, hidden, feat], got shape {tuple(W.shape)}")


def _unbatch(x: Tensor, single: bool) -> Tensor:
    return x[0] if single else x


def feature_norms(W: Tensor) -> Tensor:
    """‖W_i‖ ``[inst, feat]``: about 1 for a represented feature, about 0 for a dropped one."""
    Wb, single = _batched(W)
    return _unbatch(Wb.norm(dim=1), single)


def _unit(Wb: Tensor, norms: Tensor | None = None) -> Tensor:
    """Ŵ ``[inst, hidden, feat]``: each column over its norm (``norms [inst, feat]`` when given, else computed in
    W's dtype); a zero column stays zero."""
    if norms is None:
        return Wb / Wb.norm(dim=1, keepdim=True).clamp_min(_EPS)
    return Wb / norms.clamp_min(_EPS)[:, None, :]


def _norms(norms: Tensor | None, single: bool) -> Tensor | None:
    return norms[None] if norms is not None and single else norms


def _overlaps(Wb: Tensor, norms: Tensor | None = None) -> Tensor:
    """``[inst, feat_i, feat_j]`` = Ŵ_i · W_j."""
    return torch.einsum("iha,ihb->iab", _unit(Wb, norms), Wb)


def superposition(W: Tensor) -> Tensor:
    """Σ_{j≠i} (Ŵ_i · W_j)² ``[inst, feat]``: 0 when feature i is orthogonal to all others."""
    Wb, single = _batched(W)
    ov = _overlaps(Wb) ** 2
    total = ov.sum(dim=2) - torch.diagonal(ov, dim1=1, dim2=2)
    return _unbatch(total, single)


def feature_dimensionality(W: Tensor) -> Tensor:
    """D_i = ‖W_i‖² / Σ_j (Ŵ_i · W_j)² ``[inst, feat]`` (the sum includes j = i, so D_i ≤ 1).

    A feature with W_i = 0 has dimensionality 0.
    """
    Wb, single = _batched(W)
    norms2 = Wb.pow(2).sum(dim=1)
    denom = (_overlaps(Wb) ** 2).sum(dim=2)
    dim = torch.where(norms2 > _EPS, norms2 / denom.clamp_min(_EPS), torch.zeros_like(norms2))
    return _unbatch(dim, single)


def dimensions_per_feature(W: Tensor) -> Tensor:
    """D* = m / ‖W‖_F² ``[inst]``."""
    Wb, single = _batched(W)
    m = Wb.shape[1]
    return _unbatch(m / Wb.pow(2).sum(dim=(1, 2)).clamp_min(_EPS), single)


def gram(W: Tensor) -> Tensor:
    """WᵀW ``[inst, feat, feat]``."""
    Wb, single = _batched(W)
    return _unbatch(torch.einsum("ihf,ihg->ifg", Wb, Wb), single)


def overlaps(W: Tensor, norms: Tensor | None = None) -> Tensor:
    """Ŵ_i · W_j ``[inst, feat_i, feat_j]``: how strongly feature j activates feature i's direction.

    ``norms`` (``[inst, feat]``, or ``[feat]`` for one model): the ‖W_i‖ to divide by instead of W's own, for a
    caller whose stored numbers took them in another precision (:func:`feature_measures` divides the float64 W by
    its float32 norms)."""
    Wb, single = _batched(W)
    return _unbatch(_overlaps(Wb, _norms(norms, single)), single)


def cosines(W: Tensor, norms: Tensor | None = None) -> Tensor:
    """cos∠(W_i, W_j) ``[inst, feat, feat]`` (0 where either feature is 0); ``norms`` as in :func:`overlaps`."""
    Wb, single = _batched(W)
    unit = _unit(Wb, _norms(norms, single))
    return _unbatch(torch.einsum("iha,ihb->iab", unit, unit), single)


def feature_measures(W: Tensor, b: Tensor) -> list[list[dict[str, Any]]]:
    """Per model, per feature of ``W [inst, hidden, feat]`` and ``b [inst, feat]``: the measures of
    features.csv (norms and superposition in float32 like the weights, the geometry between features in
    float64). The analysis (:mod:`tms.analysis.models`) writes them and :meth:`tms.results.Results.table` gives
    them, so a notebook and the report read the same numbers."""
    inst, _, n = W.shape
    norms, sup = feature_norms(W), superposition(W)
    dims = feature_dimensionality(W)
    # float64 directions over the float32 norms: the arithmetic features.csv has always been written with
    Wd, norms64 = W.double(), norms.double()
    cos = cosines(Wd, norms=norms64)
    proj = overlaps(Wd, norms=norms64)  # [inst, i, j] = Ŵ_i · W_j
    eye = torch.eye(n, dtype=torch.bool)
    rep = norms > REPRESENTED_NORM
    max_overlap = proj.masked_fill(eye, -math.inf).amax(dim=2).tolist() if n > 1 else [[None] * n] * inst
    # the closest other represented feature; +inf where there is none (or i itself is not represented)
    others = cos.masked_fill(eye | ~rep[:, None, :], math.inf).amin(dim=2).masked_fill(~rep, math.inf).tolist()
    columns = zip(norms.tolist(), sup.tolist(), dims.tolist(), b.tolist(), rep.tolist(), max_overlap, others)
    return [[{"feature": f, "norm": nm[f], "superposition": sp[f], "dimensionality": dm[f], "bias": bb[f],
              "represented": rp[f], "superposed": rp[f] and sp[f] >= SUPERPOSED, "max_overlap": mo[f],
              "min_cos_represented": ot[f] if math.isfinite(ot[f]) else None} for f in range(n)]
            for nm, sp, dm, bb, rp, mo, ot in columns]


def paper_loss(loss: Tensor | float, n_features: int) -> Tensor | float:
    """A loss of this package in the paper's convention: ``loss * n_features``.

    tms's loss (every ``loss`` and ``final_loss``, ``instances.csv``, ``models.csv``) is the importance-weighted
    squared error *averaged* over the n features (and the batch): mean_i I_i (x_i - x'_i)². The paper (and occhio)
    *sum* over the features, Σ_i I_i (x_i - x'_i)², so the paper's number is n times ours. ``loss``: a number or
    a tensor of any shape (``[inst]``); ``n_features``: the run's n."""
    if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
        raise ValueError(f"n_features must be an integer >= 1, got {n_features!r}")
    return loss * n_features


# -- the beyond suite's measures (BEYOND.md SCALE, DD) -------------------------------------------------------------

def hidden_points(W: Tensor, x: Tensor) -> Tensor:
    """The hidden vectors h_t = W x_t of data points ``x [inst, points, feat]`` (or ``[points, feat]`` with a single
    ``W [hidden, feat]``): ``[inst, points, hidden]``."""
    return torch.einsum("...hf,...pf->...ph", W, x)


def data_dimensionality(h: Tensor) -> Tensor:
    """Each data point's dimensionality (Henighan et al. 2023, the feature dimensionality formula applied to the
    points' hidden vectors): D_t = ‖h_t‖² / Σ_s (ĥ_t · h_s)², for ``h [inst, points, hidden]`` or
    ``[points, hidden]``; 0 for a point whose hidden vector is 0. ``k`` points spread as a regular polygon in 2
    dimensions (k ≥ 3) have D_t = 2/k each; a point orthogonal to all others has 1."""
    norms = torch.linalg.vector_norm(h, dim=-1)  # [..., points]
    unit = h / norms.clamp_min(_EPS)[..., None]
    proj = torch.einsum("...th,...sh->...ts", unit, h) ** 2  # (ĥ_t · h_s)²
    out = norms**2 / proj.sum(dim=-1).clamp_min(_EPS)
    return torch.where(norms > _EPS, out, torch.zeros_like(out))


def share_represented(W: Tensor, threshold: float = 0.5) -> Tensor:
    """φ½ (Liu, Liu & Gore 2025): the share of features whose vector has norm ‖W_i‖ above ``threshold`` (½), per
    instance. 1 in strong superposition (every feature represented), small in weak superposition."""
    Wb, single = _batched(W)
    return _unbatch((feature_norms(Wb) > threshold).double().mean(dim=-1).float(), single)


def mean_squared_overlap(W: Tensor, min_norm: float = 0.0) -> Tensor:
    """Mean over ordered pairs i ≠ j of the squared overlap of the unit feature vectors, (Ŵ_i · Ŵ_j)², per instance
    (Liu, Liu & Gore 2025), over the features with norm above ``min_norm`` (and above 0); nan for fewer than two.
    Unit vectors in m dimensions cannot do better than the Welch bound (:func:`welch_bound`)."""
    Wb, single = _batched(W)
    norms = feature_norms(Wb)  # [inst, feat]
    keep = norms > max(min_norm, _EPS)
    unit = Wb / norms.clamp_min(_EPS)[:, None, :]
    cos2 = torch.einsum("ihf,ihg->ifg", unit, unit) ** 2
    pair = keep[:, :, None] & keep[:, None, :] & ~torch.eye(Wb.shape[-1], dtype=torch.bool, device=W.device)
    count = pair.sum(dim=(1, 2))
    total = (cos2 * pair).sum(dim=(1, 2))
    out = torch.where(count > 0, total / count.clamp_min(1), torch.full_like(total, math.nan))
    return _unbatch(out, single)


def welch_bound(n: int, m: int) -> float:
    """The least mean squared overlap of n unit vectors in m dimensions (Welch 1974): Σ_{i≠j} (ŵ_i·ŵ_j)² ≥ n²/m − n,
    so the mean over the n(n − 1) ordered pairs is at least (n − m)/(m (n − 1)); 0 when n ≤ m."""
    if n <= m:
        return 0.0
    return (n - m) / (m * (n - 1))


#: The convergence check's window: the last tenth of training (BEYOND.md SCALE).
CONVERGENCE_TAIL = 0.1


def relative_change(steps: list[int] | Tensor, losses: Tensor, tail: float = CONVERGENCE_TAIL) -> Tensor:
    """How much the loss still fell over the last ``tail`` of training (T steps), per instance: (L_before − L_end) /
    L_end, with L_before the mean logged loss over steps in ((1 − tail) T, (1 − tail/2) T] and L_end over steps in
    ((1 − tail/2) T, T]. Means over windows rather than single logged batches, so that a training batch's noise
    does not read as a change. ``losses`` is ``[len(steps), inst]``; nan where a window holds no logged step.
    About 0 (or below): converged; 0.1: the loss still fell 10 % within the last tenth. Under a schedule that decays
    the learning rate (cosine to a floor) the last tenth moves little whatever the loss would still gain, so a small
    change there is necessary for convergence, not sufficient (measured: a scaling model at m = 64 read 0.001 after
    3 000 steps and ended 2.8x lower after 6 000)."""
    s = torch.as_tensor(list(steps), dtype=torch.float64)
    T = float(s.max())
    before = (s > (1 - tail) * T) & (s <= (1 - tail / 2) * T)
    end = s > (1 - tail / 2) * T
    values = losses.double()
    if not before.any() or not end.any():
        return torch.full((values.shape[1],), math.nan)
    lb, le = values[before].mean(dim=0), values[end].mean(dim=0)
    return ((lb - le) / le.clamp_min(_EPS)).float()
