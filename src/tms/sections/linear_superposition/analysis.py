"""A linear model in superposition? (BEYOND.md ALT; Roe & Goldstein 2025, "Alternative Models of Superposition").

Pure measures of the 2-D feature directions of a trained ``W [inst, 2, n]`` and the tables the claims read:

- :func:`feature_angles`, :func:`circular_gaps`, :func:`gap_stats`: each feature's direction as an angle, the gaps
  between neighbouring directions on the circle (in 2-D the smallest angle between any two features is the
  smallest such gap, so the post's criterion is about the gaps) and their summaries;
- :func:`random_gap_stats`: the same summaries for many draws of n independent uniform angles, the reference
  "no arrangement at all";
- :func:`frame_anisotropy`: |mean_i e^{2iθ_i}|, 0 exactly when the directions' second moment Σ_i ŵ_i ŵ_iᵀ is a
  multiple of the identity (a tight frame);
- :func:`theory_norm`: the norm every feature takes when the directions form a tight frame, which is what the
  target-only loss asks for (derivation below and in notes.md).

Tables: ``alt_models.csv`` (one row per trained model), ``alt_gaps.csv`` (every gap of every model),
``alt_random.csv`` (quantiles of the random reference) and ``alt_random_hist.csv`` (its histograms, as drawn).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from tms.analysis.folder import ExperimentFolder
from tms.tables import Column, Schema

TARGET_RUN, FULL_RUN = "target-only", "full-loss"
"""The main runs' names (the declaration's configs, the claims and the figures use these)."""
WIDE = 0.8
"""A gap is wide when it is at least this share of the even spacing 360°/n (BEYOND.md ALT-2)."""
POST_TOLERANCE = 0.2
"""The post's criterion: the smallest angle within this share of 360°/n (their ``is_superposition``)."""
REPRESENTED = 0.5
"""A feature has a large norm when ‖W_i‖ > this (ALT-1)."""
RANDOM_DRAWS = 20_000
"""Draws of n uniform angles in the random reference."""
RANDOM_SEED = 12_345
"""The random reference's generator seed (the reference is the same in every run of the analysis)."""
STATS = ("min_gap", "median_gap", "max_gap", "wide_share", "anisotropy")
"""The summaries compared with the random reference, in table order."""


def feature_angles(W: Tensor) -> Tensor:
    """Each feature's direction ``[inst, n]`` in degrees in [0, 360) from ``W [inst, 2, n]``."""
    if W.ndim != 3 or W.shape[1] != 2:
        raise ValueError(f"W must be [inst, 2, n], got {tuple(W.shape)}")
    return torch.rad2deg(torch.atan2(W[:, 1].double(), W[:, 0].double())).remainder(360.0)


def circular_gaps(angles: Tensor) -> Tensor:
    """The gaps ``[..., n]`` (degrees, summing to 360) between neighbours of the sorted ``angles [..., n]`` on the
    circle, the last from the largest angle round to the smallest."""
    s = angles.double().remainder(360.0).sort(dim=-1).values
    wrap = s[..., :1] + 360.0 - s[..., -1:]
    return torch.cat([s.diff(dim=-1), wrap], dim=-1)


def gap_stats(gaps: Tensor) -> dict[str, Tensor]:
    """Smallest, median and largest gap ``[...]`` and the share of gaps at least :data:`WIDE` × 360°/n."""
    n = gaps.shape[-1]
    return {"min_gap": gaps.min(dim=-1).values, "median_gap": gaps.median(dim=-1).values,
            "max_gap": gaps.max(dim=-1).values,
            "wide_share": (gaps >= WIDE * 360.0 / n).double().mean(dim=-1)}


def frame_anisotropy(angles: Tensor) -> Tensor:
    """|mean_i e^{2iθ_i}| ``[...]`` of the directions ``angles [..., n]`` (degrees): the eigenvalues of the unit
    directions' second moment (1/n) Σ ŵ_i ŵ_iᵀ are (1 ± this)/2, so 0 is a tight frame and 1 all on one line."""
    theta = torch.deg2rad(angles.double())
    return torch.hypot(torch.cos(2 * theta).mean(dim=-1), torch.sin(2 * theta).mean(dim=-1))


def random_gap_stats(n: int, draws: int = RANDOM_DRAWS, seed: int = RANDOM_SEED) -> dict[str, Tensor]:
    """:func:`gap_stats` and :func:`frame_anisotropy` of ``draws`` independent draws of n uniform angles, each
    ``[draws]``, from a generator seeded with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    angles = torch.rand((draws, n), generator=g, dtype=torch.float64) * 360.0
    return {**gap_stats(circular_gaps(angles)), "anisotropy": frame_anisotropy(angles)}


def percentile(reference: Tensor, value: float) -> float:
    """Where ``value`` falls among the ``reference`` draws, in [0, 1]: the share below it plus half the share equal
    to it (mid-rank, so a value equal to every draw is 0.5)."""
    below = (reference < value).double().mean().item()
    equal = (reference == value).double().mean().item()
    return below + 0.5 * equal


def post_criterion(min_gap: float, n: int) -> bool:
    """Roe & Goldstein's ``is_superposition``: the smallest angle between two features within :data:`POST_TOLERANCE`
    × 360°/n of 360°/n."""
    even = 360.0 / n
    return abs(min_gap - even) <= POST_TOLERANCE * even


def noise_variance(p: float, noise: float) -> float:
    """Variance of one non-target feature of data 'alt': on with probability p, then noise · U[0, 1):
    E[x²] − E[x]² = p·noise²/3 − (p·noise/2)²."""
    return p * noise**2 / 3.0 - (p * noise / 2.0) ** 2


def theory_norm(n: int, p: float, noise: float) -> float:
    """The norm r of every feature of the linear model x' = WᵀW x + b trained with the target-only loss when its n
    directions form a tight frame in 2-D, the loss's minimum over arrangements.

    With ‖W_i‖ = r and b_t absorbing every mean, the expected loss for target t is
    (r² − 1)² Var(x_t) + r⁴ Σ_{j≠t} cos²θ_tj Var(x_j), with Var(x_t) = 1/12 and Var(x_j) = :func:`noise_variance`.
    Averaged over t, Σ_{j≠t} cos²θ_tj = (1/n) tr(F²) − 1 for F = Σ_j ŵ_j ŵ_jᵀ (trace n), at least n/2 − 1, with
    equality exactly for a tight frame (F = n/2 · I). Minimising over s = r² gives
    s = (1/12) / (1/12 + (n/2 − 1) Var(x_j))."""
    v = noise_variance(p, noise)
    s = (1.0 / 12.0) / (1.0 / 12.0 + (n / 2.0 - 1.0) * v)
    return math.sqrt(s)


def onehot_accuracy(W: Tensor, b: Tensor) -> Tensor:
    """Roe & Goldstein's accuracy ``[inst]``: the share of one-hot inputs e_i whose largest output is feature i
    (the output for e_i is column i of WᵀW plus b)."""
    out = torch.einsum("ihf,ihg->ifg", W.double(), W.double()) + b.double()[:, None, :]  # [inst, input i, output g]
    n = W.shape[2]
    return (out.argmax(dim=2) == torch.arange(n)).double().mean(dim=1)


MODEL_TABLE = Schema("alt_models.csv", (
    Column("run", "str"), Column("instance", "int"), Column("loss", "str", "the run's training loss"),
    Column("noise", "float", "amplitude of the non-target features"),
    Column("penalty", "float", "λ of the target-only loss"), Column("final_loss", "float"),
    Column("sum_sq_norm", "float", "Σ_i ‖W_i‖²"), Column("n_large", "int", f"features with ‖W_i‖ > {REPRESENTED}"),
    Column("median_norm", "float"), Column("theory_norm", "float", "r of a tight frame (theory_norm)"),
    Column("min_gap", "float", "smallest angle between neighbouring directions, degrees"),
    Column("median_gap", "float"), Column("max_gap", "float"),
    Column("wide_share", "float", f"share of gaps >= {WIDE} × 360°/n"),
    Column("anisotropy", "float", "|mean e^{2iθ}|: 0 for a tight frame"),
    *(Column(f"{s}_pct", "float", f"percentile of {s} among {RANDOM_DRAWS} draws of n uniform angles")
      for s in STATS),
    Column("post_criterion", "bool", f"smallest angle within {POST_TOLERANCE:g} × 360°/n of 360°/n"),
    Column("onehot_accuracy", "float", "share of one-hot inputs whose largest output is their own feature"),
))
RANDOM_TABLE = Schema("alt_random.csv", (
    Column("statistic", "str"), Column("n", "int"), Column("draws", "int"),
    Column("q001", "float"), Column("q005", "float"), Column("q50", "float"), Column("q995", "float"),
    Column("q999", "float"),
))
QUANTILES = (0.001, 0.005, 0.5, 0.995, 0.999)
GAP_TABLE = Schema("alt_gaps.csv", (
    Column("run", "str"), Column("instance", "int"), Column("index", "int", "rank of the gap's start angle"),
    Column("gap", "float", "degrees to the next direction round the circle"),
), doc="every gap between neighbouring directions of every trained model")
RANDOM_HIST_TABLE = Schema("alt_random_hist.csv", (
    Column("statistic", "str"), Column("n", "int"), Column("draws", "int"),
    Column("lo", "float", "the bin's left edge, degrees"), Column("hi", "float", "its right edge"),
    Column("count", "int", "draws of n uniform angles whose statistic falls in the bin"),
), doc="histograms of the random reference's largest and smallest gap (the figure's grey bars)")
HIST_STATS = (("max_gap", False), ("min_gap", True))
"""The reference statistics histogrammed, and whether their bins are log-spaced."""
HIST_BINS = 50


def histogram_rows(n: int, reference: dict[str, Tensor]) -> list[dict[str, Any]]:
    """:data:`RANDOM_HIST_TABLE` rows: :data:`HIST_BINS` bins from the smallest to the largest draw of each of
    :data:`HIST_STATS` (log-spaced where asked); numpy's histogram, whose bins the figure's bars are."""
    rows = []
    for stat, log in HIST_STATS:
        v = reference[stat].double().numpy()
        edges = np.geomspace(v.min(), v.max(), HIST_BINS + 1) if log else np.linspace(v.min(), v.max(), HIST_BINS + 1)
        counts, _ = np.histogram(v, bins=edges)
        rows += [{"statistic": stat, "n": n, "draws": int(v.size), "lo": float(edges[k]), "hi": float(edges[k + 1]),
                  "count": int(counts[k])} for k in range(HIST_BINS)]
    return rows


def gap_rows(run: str, W: Tensor) -> list[dict[str, Any]]:
    """:data:`GAP_TABLE` rows of a run's ``W [inst, 2, n]``."""
    g = circular_gaps(feature_angles(W))  # [inst, n]
    return [{"run": run, "instance": i, "index": j, "gap": v} for i, row in enumerate(g.tolist())
            for j, v in enumerate(row)]


def model_rows(run: str, cfg: Any, W: Tensor, b: Tensor, final_loss: Tensor,
               reference: dict[str, Tensor]) -> list[dict[str, Any]]:
    """One :data:`MODEL_TABLE` row per instance of a run of the linear model on data 'alt'."""
    n = W.shape[2]
    p = cfg.density[0][0]
    noise = float(getattr(cfg, "noise", 0.1))
    norms = torch.linalg.vector_norm(W.double(), dim=1)  # [inst, n]
    angles = feature_angles(W)
    stats = {**gap_stats(circular_gaps(angles)), "anisotropy": frame_anisotropy(angles)}
    accuracy = onehot_accuracy(W, b)
    rows = []
    for i in range(W.shape[0]):
        row = {"run": run, "instance": i, "loss": cfg.recipe.loss, "noise": noise,
               "penalty": float(getattr(cfg.recipe, "loss_penalty", 0.0)), "final_loss": float(final_loss[i]),
               "sum_sq_norm": float((norms[i] ** 2).sum()), "n_large": int((norms[i] > REPRESENTED).sum()),
               "median_norm": float(norms[i].median()), "theory_norm": theory_norm(n, p, noise),
               **{s: float(stats[s][i]) for s in STATS},
               **{f"{s}_pct": percentile(reference[s], float(stats[s][i])) for s in STATS},
               "post_criterion": post_criterion(float(stats["min_gap"][i]), n),
               "onehot_accuracy": float(accuracy[i])}
        rows.append(row)
    return rows


def analyze_alt(exp: ExperimentFolder) -> None:
    """Write :data:`MODEL_TABLE` and :data:`GAP_TABLE` for every run of the experiment, :data:`RANDOM_TABLE` and
    :data:`RANDOM_HIST_TABLE` for its n."""
    rows: list[dict[str, Any]] = []
    gaps: list[dict[str, Any]] = []
    references: dict[int, dict[str, Tensor]] = {}
    for run in sorted(exp.run_names()):
        r = exp.run(run)
        n = r.config.n_features
        if n not in references:
            references[n] = random_gap_stats(n)
        rows += model_rows(run, r.config, r.W, r.params["b"], r.final_loss, references[n])
        gaps += gap_rows(run, r.W)
    exp.write(MODEL_TABLE, rows)
    exp.write(GAP_TABLE, gaps)
    exp.write(RANDOM_HIST_TABLE, [row for n, ref in sorted(references.items()) for row in histogram_rows(n, ref)])
    q = torch.tensor(QUANTILES, dtype=torch.float64)
    exp.write(RANDOM_TABLE, [
        {"statistic": s, "n": n, "draws": RANDOM_DRAWS,
         **dict(zip(("q001", "q005", "q50", "q995", "q999"), ref[s].quantile(q).tolist()))}
        for n, ref in sorted(references.items()) for s in STATS])
