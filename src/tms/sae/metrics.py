"""How well a sparse autoencoder recovers known features (BEYOND.md, SAE metrics), as pure functions.

Directions are rows, as in SAELens and :mod:`tms.sae` (``W_dec [latent, hidden]``, a source's ``directions
[feat, hidden]``): the true features ``F [feat, hidden]`` (a toy model's represented columns W_i, transposed by
:func:`represented`, or a synthetic dictionary), an SAE's decoder ``D [latent, hidden]``, or many SAEs trained at
once on one stream, ``D [sae, latent, hidden]``; every function then gives one value per SAE. Activations are
rows: true feature values ``x [batch, feat]``, hidden activations ``h [batch, hidden]``, codes ``c [batch, latent]``
or ``[sae, batch, latent]`` and reconstructions ``ĥ`` shaped like codes. Shapes that cannot go together raise a
one-line :class:`~tms.errors.ConfigError` naming the argument.

- MMCS (Sharkey, Braun & Millidge 2022): the mean over true features of the best |cos| with any decoder row;
- MCC: a one-to-one matching (Hungarian, :func:`scipy.optimize.linear_sum_assignment`) of true features to
  latents on |cos|, the mean over matched pairs (as ``sae_lens.synthetic.mean_correlation_coefficient``); pass
  the represented features only (:func:`represented`);
- the share of true features recovered at |cos| ≥ 0.99;
- L0 (mean active entries per sample, for codes and for the true feature values), dead latents (never fire over
  an evaluation stream), explained variance, shrinkage Σ‖ĥ‖ / Σ‖h‖ (a ratio of sums: a mean of per-sample
  ratios is dominated by near-zero samples, BEYOND.md);
- precision, recall and F1 of a matched latent firing when its feature is active;
- absorption (Chanin et al. 2024): on the samples where parent and child both fire, the share on which the
  parent-aligned latent is silent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from ..errors import ConfigError
from ..layout import REPRESENTED_NORM

RECOVERED_COS = 0.99
"""|cos| at or above which a true feature counts as recovered (BEYOND.md SAE-1)."""

_EPS = 1e-12


def _shape(name: str, t: Tensor, allowed: str) -> str:
    return f"{name} must be {allowed}, got shape {tuple(t.shape)}"


def _decoder(D: Tensor) -> tuple[Tensor, bool]:
    """``D`` as ``[sae, latent, hidden]`` and whether it was a single SAE."""
    if D.ndim == 2:
        return D[None], True
    if D.ndim == 3:
        return D, False
    raise ConfigError(_shape("decoder", D, "[latent, hidden] or [sae, latent, hidden]"))


def _pair(F: Tensor, D: Tensor) -> tuple[Tensor, Tensor, bool]:
    if F.ndim != 2:
        raise ConfigError(_shape("true features", F, "[feat, hidden]"))
    Db, single = _decoder(D)
    if Db.shape[2] != F.shape[1]:
        raise ConfigError(f"decoder has hidden size {Db.shape[2]} but the true features have {F.shape[1]}: "
                          "they must live in the same space")
    if F.shape[0] == 0 or Db.shape[1] == 0:
        raise ConfigError(f"true features [feat, hidden] {tuple(F.shape)} and decoder {tuple(D.shape)} must each "
                          "hold at least one direction")
    return F, Db, single


def _out(x: Tensor, single: bool) -> Tensor:
    return x[0] if single else x


def represented(W: Tensor, threshold: float = REPRESENTED_NORM) -> Tensor:
    """The columns of a toy model's ``W [hidden, feat]`` with ‖W_i‖ > ``threshold``, as rows ``[n, hidden]``:
    the ground truth an SAE on its hidden activations can recover (BEYOND.md, Data)."""
    if W.ndim != 2:
        raise ConfigError(_shape("W", W, "[hidden, feat] (one model)"))
    return W[:, W.norm(dim=0) > threshold].T


def abs_cosines(F: Tensor, D: Tensor) -> Tensor:
    """|cos(F_i, D_j)| ``[feat, latent]`` (or ``[sae, feat, latent]``); a zero column has cos 0 with all."""
    F, Db, single = _pair(F, D)
    Fu = F / F.norm(dim=1, keepdim=True).clamp_min(_EPS)
    Du = Db / Db.norm(dim=2, keepdim=True).clamp_min(_EPS)
    return _out(torch.einsum("fh,slh->sfl", Fu.to(Du.dtype), Du).abs(), single)


def best_cosines(F: Tensor, D: Tensor) -> Tensor:
    """Each true feature's best |cos| with any decoder column, ``[feat]`` (or ``[sae, feat]``)."""
    return abs_cosines(F, D).amax(dim=-1)


def mmcs(F: Tensor, D: Tensor) -> Tensor:
    """Mean max cosine similarity: the mean over true features of the best |cos| with any decoder column."""
    return best_cosines(F, D).mean(dim=-1)


def recovered_share(F: Tensor, D: Tensor, threshold: float = RECOVERED_COS) -> Tensor:
    """The share of true features whose best |cos| with a decoder column is at least ``threshold``."""
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold must be a |cos| in [0, 1], got {threshold}")
    return (best_cosines(F, D) >= threshold).to(F.dtype).mean(dim=-1)


@dataclass(frozen=True)
class Matching:
    """A one-to-one matching of true features to latents for one SAE: ``feature[k]`` ↔ ``latent[k]`` with
    |cos| ``cos[k]``; min(feat, latent) pairs."""

    feature: np.ndarray
    latent: np.ndarray
    cos: np.ndarray

    def latent_of(self, n_features: int) -> np.ndarray:
        """``[feat]``: each true feature's matched latent, −1 where none (fewer latents than features)."""
        out = np.full(n_features, -1, dtype=np.int64)
        out[self.feature] = self.latent
        return out


def match(F: Tensor, D: Tensor) -> list[Matching]:
    """The Hungarian matching of true features to latents maximising the summed |cos|, one per SAE (a list of
    one for a single decoder)."""
    cos = abs_cosines(F, D)
    cos = cos[None] if cos.ndim == 2 else cos
    out = []
    for c in cos.detach().to(torch.float64).cpu().numpy():
        rows, cols = linear_sum_assignment(c, maximize=True)
        out.append(Matching(feature=rows, latent=cols, cos=c[rows, cols]))
    return out


def mcc(F: Tensor, D: Tensor) -> Tensor:
    """Mean correlation coefficient: the mean |cos| over the one-to-one (Hungarian) matched pairs. Pass the
    represented features only (:func:`represented`): an unrepresented column has no direction to recover."""
    values = torch.tensor([m.cos.mean() for m in match(F, D)], dtype=torch.float64)
    return values[0] if D.ndim == 2 else values


def _codes(name: str, c: Tensor) -> tuple[Tensor, bool]:
    if c.ndim == 2:
        return c[None], True
    if c.ndim == 3:
        return c, False
    raise ConfigError(_shape(name, c, "[batch, n] or [sae, batch, n]"))


def l0(acts: Tensor) -> Tensor:
    """Mean number of non-zero entries per sample: of codes ``[batch, latent]`` (``[sae, batch, latent]``), or
    the true L0 of feature values ``x [batch, feat]``."""
    a, single = _codes("activations", acts)
    return _out((a != 0).sum(dim=-1).to(torch.float64).mean(dim=-1), single)


def ever_fired(codes: Tensor) -> Tensor:
    """``[latent]`` (or ``[sae, latent]``): whether each latent is non-zero on any sample; OR it over the
    batches of an evaluation stream."""
    c, single = _codes("codes", codes)
    return _out((c != 0).any(dim=1), single)


def dead_latents(codes: Tensor) -> Tensor:
    """How many latents never fire over ``codes`` (give the whole evaluation stream, or OR :func:`ever_fired`
    over batches and count the False)."""
    return (~ever_fired(codes)).sum(dim=-1)


def _recon(h: Tensor, h_hat: Tensor) -> tuple[Tensor, Tensor, bool]:
    if h.ndim != 2:
        raise ConfigError(_shape("hidden activations", h, "[batch, hidden]"))
    r, single = _codes("reconstruction", h_hat)
    if r.shape[1:] != h.shape:
        raise ConfigError(f"reconstruction {tuple(h_hat.shape)} must match the hidden activations "
                          f"{tuple(h.shape)} ([batch, hidden], optionally with a leading sae axis)")
    return h, r, single


def explained_variance(h: Tensor, h_hat: Tensor) -> Tensor:
    """1 − Σ‖h − ĥ‖² / Σ‖h − mean(h)‖² over the batch (R², the definition of sae_lens.evals)."""
    h, r, single = _recon(h, h_hat)
    h64, r64 = h.to(torch.float64), r.to(torch.float64)
    total = (h64 - h64.mean(dim=0)).pow(2).sum()
    if total <= 0:
        raise ConfigError("hidden activations have zero variance over the batch: explained variance is undefined")
    return _out(1.0 - (h64 - r64).pow(2).sum(dim=(1, 2)) / total, single)


def shrinkage(h: Tensor, h_hat: Tensor) -> Tensor:
    """Σ‖ĥ‖ / Σ‖h‖ over the batch: 1 for an unbiased reconstruction, below 1 when the code shrinks (L1)."""
    h, r, single = _recon(h, h_hat)
    total = h.to(torch.float64).norm(dim=-1).sum()
    if total <= 0:
        raise ConfigError("hidden activations are all zero: shrinkage is undefined")
    return _out(r.to(torch.float64).norm(dim=-1).sum(dim=-1) / total, single)


@dataclass(frozen=True)
class Detection:
    """Per matched true feature: precision, recall and F1 of its latent firing as a detector of the feature
    being active (0 where undefined: a latent that never fires, a feature that is never active)."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray


def detection(x: Tensor, codes: Tensor, latent: np.ndarray | Tensor) -> Detection:
    """``x [batch, feat]`` true values, ``codes [batch, latent]`` one SAE's codes, ``latent [feat]`` each
    feature's matched latent (:meth:`Matching.latent_of`; −1 for an unmatched feature, which scores 0)."""
    if x.ndim != 2 or codes.ndim != 2 or x.shape[0] != codes.shape[0]:
        raise ConfigError(f"feature values {tuple(x.shape)} and codes {tuple(codes.shape)} must be [batch, feat] "
                          "and [batch, latent] over the same batch")
    idx = torch.as_tensor(np.asarray(latent), dtype=torch.long)
    if idx.shape != (x.shape[1],) or int(idx.max()) >= codes.shape[1]:
        raise ConfigError(f"latent must give one latent index below {codes.shape[1]} per feature "
                          f"({x.shape[1]}), got shape {tuple(idx.shape)}")
    active = x != 0
    fires = (codes[:, idx.clamp_min(0)] != 0) & (idx >= 0)
    tp = (fires & active).sum(dim=0).to(torch.float64)
    fp = (fires & ~active).sum(dim=0).to(torch.float64)
    fn = (~fires & active).sum(dim=0).to(torch.float64)
    precision = torch.where(tp + fp > 0, tp / (tp + fp).clamp_min(1), 0.0)
    recall = torch.where(tp + fn > 0, tp / (tp + fn).clamp_min(1), 0.0)
    f1 = torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall).clamp_min(_EPS), 0.0)
    return Detection(precision.numpy(), recall.numpy(), f1.numpy())


def absorption_rate(x: Tensor, codes: Tensor, parent: int, child: int, latent: int | Tensor) -> Tensor:
    """On the samples where both ``parent`` and ``child`` features are active, the share on which the
    parent-aligned ``latent`` is silent (Chanin et al. 2024). Conditioning on both, not on the child alone: on
    the child alone a clean parent latent would read as absorbed whenever the parent is off (a spurious 0.75 in
    the control, BEYOND.md SAE-5). ``codes`` ``[batch, latent]`` or ``[sae, batch, latent]`` with ``latent`` one
    index per SAE. NaN when no sample has both."""
    c, single = _codes("codes", codes)
    if x.ndim != 2 or x.shape[0] != c.shape[1]:
        raise ConfigError(f"feature values {tuple(x.shape)} must be [batch, feat] over the codes' batch "
                          f"{c.shape[1]}")
    for name, f in (("parent", parent), ("child", child)):
        if not 0 <= f < x.shape[1]:
            raise ConfigError(f"{name} must be a feature index in [0, {x.shape[1]}), got {f}")
    idx = torch.as_tensor(latent, dtype=torch.long).reshape(-1).expand(c.shape[0])
    if int(idx.min()) < 0 or int(idx.max()) >= c.shape[2]:
        raise ConfigError(f"latent must be an index in [0, {c.shape[2]}), got {latent}")
    both = (x[:, parent] != 0) & (x[:, child] != 0)
    if not bool(both.any()):
        return _out(torch.full((c.shape[0],), float("nan"), dtype=torch.float64), single)
    parent_code = c[torch.arange(c.shape[0]), :, idx]  # [sae, batch]
    silent = (parent_code[:, both] == 0).to(torch.float64)
    return _out(silent.mean(dim=1), single)
