"""§5 learning dynamics (PAPER.md §5, experiment ``dynamics``), from the runs' training snapshots.

Uniform run (n = 400, m = 30, features ending as digons): every snapshot's feature dimensionalities D_i and its
loss on fixed batches (the same :data:`LOSS_BATCHES` batches for every snapshot, so the curve carries no sampling
noise from one snapshot to the next). A represented feature's **jump** is its move from the level of unlearned
features (D_i ≤ :data:`LOW_LEVEL`) to within :data:`NEAR` of its final value: it starts at the last snapshot at
or below the low level before the feature first comes near its final value, and ends there; its **width** is
(end − start) / end, the share of the elapsed training the move takes (on a log step axis, a width of 0.4 is
0.2 decades).

Correlated run (n = 6, m = 3, two correlated sets of three): at every snapshot, the mean cosine between members
of a set, the most negative cosine between features of different sets, how many cross-set antipodal pairs
there are, and the regime: ``pca`` (the members of each set have turned towards each other: mean cos at least
:data:`PCA_COS` and at least :data:`PCA_RISE` above where it started, the sets represented by their principal
components), ``octahedron`` (every D_i within :data:`NEAR` of ½, three antipodal pairs each joining the two sets,
members of a set orthogonal) or ``between``.

Tables: ``dynamics_features.csv``, ``dynamics_steps.csv``, ``dynamics_summary.csv``,
``dynamics_trajectories.csv`` (uniform run),
``dynamics_regimes.csv`` (correlated run), and ``dynamics.scatter.json`` (D_i of every represented feature at
every snapshot: the report's step slider).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from tms.data import get_distribution
from tms.files import atomic_write_json
from tms.layout import REPRESENTED_NORM
from tms.metrics import cosines, feature_dimensionality
from tms.model import get_family
from tms.tables import Column, Schema
from tms.analysis.folder import ExperimentFolder

LOW_LEVEL = 0.2
"""D_i of a feature not yet learned stays below this (random directions among 400 in 30 dimensions: ≈ 0.1)."""
NEAR = 0.05
"""Within this of its final value, a feature has arrived."""
LOSS_BATCHES = 2
"""Batches (of the run's batch size) of the fixed sample every snapshot's loss is measured on."""
LOSS_SEED = 12345
"""Seed of that sample (its own stream: not the training or the evaluation data)."""
LAGS = 3
"""S5-2: the loss may trail the dimensionality by up to this many snapshot intervals."""
TRANSIENT = 0.05
"""S5-2: the first 5 % of training (the bias and the unlearned features settling) is left out."""
PCA_COS = 0.3
"""A set's members point the same way: mean cos ≥ 0.3 (about 70°) ..."""
PCA_RISE = 0.3
"""... having risen at least 0.3 from the initialisation (random inits start anywhere between −0.4 and 0.6)."""
ANTIPODAL_COS = 0.95
ORTHOGONAL_COS = 0.1

FEATURES = Schema("dynamics_features.csv", (
    Column("run", "str"), Column("instance", "int"), Column("feature", "int"),
    Column("final_norm", "float"), Column("final_dimensionality", "float"),
    Column("jump_start", "int", "step: last snapshot with D_i ≤ LOW_LEVEL before D_i comes near its final value"),
    Column("jump_end", "int", "step: first snapshot within NEAR of the final D_i"),
    Column("jump_width", "float", "(end − start) / end"),
))
STEPS = Schema("dynamics_steps.csv", (
    Column("run", "str"), Column("instance", "int"), Column("step", "int"),
    Column("loss", "float", "loss on the fixed sample"),
    Column("sum_dimensionality", "float", "Σ D_i over the features represented at the end"),
    Column("jumping", "int", "features whose jump is under way (start < step ≤ end)"),
))
TRAJECTORIES = Schema("dynamics_trajectories.csv", (
    Column("run", "str"), Column("instance", "int"), Column("feature", "int"), Column("step", "int"),
    Column("dimensionality", "float", "D_i at that snapshot (represented features of the lowest-loss model)"),
))
SUMMARY = Schema("dynamics_summary.csv", (
    Column("run", "str"), Column("instance", "int"), Column("best", "bool"),
    Column("represented", "int"), Column("jumps", "int", "represented features with a jump"),
    Column("median_width", "float"), Column("p90_width", "float"),
    Column("first_jump", "int"), Column("last_jump", "int"),
    Column("correlation", "float", "best Pearson r between the rise of Σ D_i and the fall of the loss per snapshot "
                                   "interval, the loss lagging by 0 to LAGS intervals (after the first 5 %)"),
    Column("lag", "int", "intervals of that lag"),
    Column("correlation_lag0", "float", "the same r without a lag"),
    Column("loss_share_in_jumps", "float", "share of the loss decrease after the first 5 % that happens between the "
                                           "first jump's start and the last jump's end"),
    Column("time_share_in_jumps", "float", "share of the training after the first 5 % that span takes"),
    Column("peaked_share", "float", "share of jumps whose loss decrease is larger than in the windows of the same "
                                    "length just before and after it"),
))
REGIMES = Schema("dynamics_regimes.csv", (
    Column("run", "str"), Column("instance", "int"), Column("best", "bool"), Column("step", "int"),
    Column("within_cos", "float", "mean cos between members of a set"),
    Column("cross_min_cos", "float", "most negative cos between features of different sets"),
    Column("cross_antipodal", "int",
           f"features whose most opposite feature (cos ≤ −{ANTIPODAL_COS:g}) is in the other set"),
    Column("max_dim_deviation", "float", "max |D_i − ½|"),
    Column("regime", "str", "pca / between / octahedron"),
))
SCATTER_FILE = "dynamics.scatter.json"


def jump(D: np.ndarray, steps: np.ndarray) -> tuple[int, int] | None:
    """(start, end) snapshot indices of a feature's jump (module docstring), or None when it has none (it never
    leaves the low level, or never was there)."""
    target = D[-1] - NEAR
    if D[-1] <= LOW_LEVEL or not (D >= target).any():
        return None
    end = int(np.argmax(D >= target))
    low = np.where(D[:end] <= LOW_LEVEL)[0]
    if low.size == 0:
        return None
    return int(low.max()), end


def lagged_correlation(rise: np.ndarray, drop: np.ndarray, lags: int = LAGS) -> tuple[float, int]:
    """The largest Pearson r between ``rise[t]`` and ``drop[t + k]`` over k = 0…lags, and its k."""
    best = (-math.inf, 0)
    for k in range(lags + 1):
        a, b = rise[: len(rise) - k], drop[k:]
        if len(a) > 2 and a.std() > 0 and b.std() > 0:
            best = max(best, (float(np.corrcoef(a, b)[0, 1]), k))
    return best if math.isfinite(best[0]) else (math.nan, 0)


def snapshot_losses(exp: ExperimentFolder, run: str) -> np.ndarray:
    """``[snapshots, inst]`` loss of every snapshot on one fixed sample (:data:`LOSS_BATCHES` batches)."""
    r = exp.run(run)
    cfg = r.config
    snaps = r.snapshots
    family = get_family(cfg.model)
    sample = get_distribution(cfg.data).bind(cfg.feature_sets)
    g = torch.Generator().manual_seed(LOSS_SEED + cfg.seed)
    density = torch.tensor(cfg.instance_density(), dtype=torch.float32)
    importance = torch.tensor(cfg.instance_importance(), dtype=torch.float32)
    x = torch.cat([sample(density, cfg.recipe.batch_size, g) for _ in range(LOSS_BATCHES)], dim=1)
    out = np.empty((len(snaps.steps), cfg.n_instances))
    with torch.no_grad():
        for k in range(len(snaps.steps)):
            out[k] = family.loss({n: v[k] for n, v in snaps.params.items()}, x, importance).double().numpy()
    return out


def analyze_uniform(exp: ExperimentFolder, run: str) -> None:
    """dynamics_features.csv, dynamics_steps.csv, dynamics_summary.csv and the step-slider scatter."""
    r = exp.run(run)
    snaps = r.snapshots
    steps = np.array(snaps.steps)
    W = snaps.params["W"]  # [S, inst, m, n]
    S, inst = W.shape[:2]
    D = feature_dimensionality(W.reshape(S * inst, *W.shape[2:])).reshape(S, inst, -1).double().numpy()
    losses = snapshot_losses(exp, run)
    best = set(r.best_instances())
    features, rows, summary, frames, trajectories = [], [], [], [], []
    t0 = TRANSIENT * steps[-1]
    for i in range(inst):
        norms = r.W[i].double().norm(dim=0).numpy()
        rep = [f for f in range(D.shape[2]) if norms[f] > REPRESENTED_NORM]
        jumps = {}
        for f in rep:
            j = jump(D[:, i, f], steps)
            if j is not None:
                jumps[f] = j
            features.append({"run": run, "instance": i, "feature": f, "final_norm": float(norms[f]),
                             "final_dimensionality": float(D[-1, i, f]),
                             "jump_start": int(steps[j[0]]) if j else None, "jump_end": int(steps[j[1]]) if j else None,
                             "jump_width": float((steps[j[1]] - steps[j[0]]) / steps[j[1]]) if j else None})
        total = D[:, i, rep].sum(axis=1)
        for k in range(S):
            rows.append({"run": run, "instance": i, "step": int(steps[k]), "loss": float(losses[k, i]),
                         "sum_dimensionality": float(total[k]),
                         "jumping": sum(a < k <= b for a, b in jumps.values())})
        summary.append(_summary(run, i, i in best, rep, jumps, steps, total, losses[:, i], t0))
        if i in best:
            frames = _frames(D[:, i], steps, rep, jumps)
            trajectories = [{"run": run, "instance": i, "feature": f, "step": int(steps[k]),
                             "dimensionality": float(D[k, i, f])} for f in rep for k in range(S)]
    exp.write(FEATURES, features)
    exp.write(STEPS, rows)
    exp.write(SUMMARY, summary)
    exp.write(TRAJECTORIES, trajectories)
    atomic_write_json(exp.tables_dir / SCATTER_FILE, {
        "title": "D_i of every represented feature over training (lowest-loss model); slide through the snapshots",
        "x_label": "feature (ordered by the step its jump ends)", "y_label": "D_i", "x_log": False,
        "y_range": [0, 1.05], "lines": [{"y": 0.5, "label": "1/2"}, {"y": LOW_LEVEL, "label": "low level"}],
        "series": ["before its jump", "jumping", "arrived"], "frame_label": "step", "frames": frames,
        "points": frames[-1]["points"] if frames else [],
    })


def _summary(run: str, i: int, best: bool, rep: list[int], jumps: dict[int, tuple[int, int]], steps: np.ndarray,
             total: np.ndarray, loss: np.ndarray, t0: float) -> dict[str, Any]:
    after = steps >= t0
    widths = [(steps[b] - steps[a]) / steps[b] for a, b in jumps.values()]
    k0 = int(np.argmax(after))
    rise, drop = np.diff(total[k0:]), -np.diff(loss[k0:])
    r, lag = lagged_correlation(rise, drop)
    r0, _ = lagged_correlation(rise, drop, lags=0)
    first = min((a for a, _ in jumps.values()), default=None)
    last = max((b for _, b in jumps.values()), default=None)
    decrease = loss[k0] - loss[-1]
    share = time_share = None
    if first is not None and decrease > 0:
        a, b = max(first, k0), last
        share = float((loss[a] - loss[b]) / decrease)
        time_share = float((steps[b] - steps[a]) / (steps[-1] - steps[k0]))
    peaked = []
    for a, b in jumps.values():
        w = b - a
        if a - w >= 0 and b + w < len(steps):
            here = loss[a] - loss[b]
            peaked.append(here > loss[a - w] - loss[a] and here > loss[b] - loss[b + w])
    return {"run": run, "instance": i, "best": best, "represented": len(rep), "jumps": len(jumps),
            "median_width": float(np.median(widths)) if widths else None,
            "p90_width": float(np.percentile(widths, 90)) if widths else None,
            "first_jump": int(steps[first]) if first is not None else None,
            "last_jump": int(steps[last]) if last is not None else None,
            "correlation": r, "lag": lag, "correlation_lag0": r0, "loss_share_in_jumps": share,
            "time_share_in_jumps": time_share,
            "peaked_share": float(np.mean(peaked)) if peaked else None}


def _frames(D: np.ndarray, steps: np.ndarray, rep: list[int], jumps: dict[int, tuple[int, int]]) -> list[dict]:
    order = sorted(rep, key=lambda f: (jumps.get(f, (0, len(steps)))[1], f))
    frames = []
    for k in range(len(steps)):
        points = []
        for x, f in enumerate(order):
            a, b = jumps.get(f, (-1, -1))
            state = "arrived" if b >= 0 and k >= b else "jumping" if a < k < b else "before its jump"
            points.append([x, round(float(D[k, f]), 4), state, f"feature {f}: D_i {D[k, f]:.3f} ({state})"])
        frames.append({"label": int(steps[k]), "points": points})
    return frames


def regime(within: float, cross_antipodal: int, deviation: float, n: int, start: float = 0.0) -> str:
    """The regime of one snapshot (module docstring); ``start``: the mean within-set cos at step 0."""
    if within >= PCA_COS and within >= start + PCA_RISE:
        return "pca"
    if cross_antipodal == n and deviation <= NEAR and abs(within) <= ORTHOGONAL_COS:
        return "octahedron"
    return "between"


def analyze_regimes(exp: ExperimentFolder, run: str) -> None:
    """dynamics_regimes.csv for the correlated-sets run (two sets)."""
    r = exp.run(run)
    sets = [list(fs.features) for fs in r.config.feature_sets]
    member = {f: k for k, fs in enumerate(sets) for f in fs}
    snaps = r.snapshots
    W = snaps.params["W"].double()
    S, inst = W.shape[:2]
    cos = cosines(W.reshape(S * inst, *W.shape[2:])).reshape(S, inst, W.shape[3], W.shape[3])
    D = feature_dimensionality(W.reshape(S * inst, *W.shape[2:])).reshape(S, inst, -1)
    best = set(r.best_instances())
    n = W.shape[3]
    rows = []
    for i in range(inst):
        start = None
        for k, step in enumerate(snaps.steps):
            c = cos[k, i]
            within = [float(c[a, b]) for fs in sets for x, a in enumerate(fs) for b in fs[x + 1:]]
            cross = [float(c[a, b]) for a in range(n) for b in range(n) if a in member and b in member
                     and member[a] != member[b]]
            opposite = [int(torch.argmin(c[a])) for a in range(n)]
            anti = sum(float(c[a, opposite[a]]) <= -ANTIPODAL_COS and member.get(a) != member.get(opposite[a])
                       for a in range(n))
            w = sum(within) / len(within)
            start = w if start is None else start
            dev = float((D[k, i] - 0.5).abs().max())
            rows.append({"run": run, "instance": i, "best": i in best, "step": step, "within_cos": w,
                         "cross_min_cos": min(cross), "cross_antipodal": anti, "max_dim_deviation": dev,
                         "regime": regime(w, anti, dev, n, start)})
    exp.write(REGIMES, rows)
