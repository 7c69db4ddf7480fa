"""§8 computation in superposition (PAPER.md §8, experiment ``computation``): the untied model
h = ReLU(W₁ x), y' = ReLU(W₂ h + b) computing |x| of signed inputs, read neuron by neuron.

Row k of W₁ is neuron k's input weights, column k of W₂ its output weights. For reading, each neuron is
**rescaled** so that its largest |W₁| weight is 1 (the paper's plots do the same; the ReLU lets a neuron's input
weights grow by a factor that its output weights lose). Then:

- neuron k **carries** feature i when its rescaled |W₁[k, i]| ≥ :data:`CARRY`; its **primary** feature is its
  largest one; it is ``monosemantic`` when it carries one feature, ``polysemantic`` when several, ``dead`` when its
  largest |W₁| weight or its output weights' norm is below :data:`DEAD_WEIGHT` (it computes nothing);
- its **secondary** weight is its second-largest rescaled |W₁| weight: a polysemantic neuron with a secondary
  weight of at most :data:`SECONDARY` has one large primary feature and small secondary ones (S8-3);
- an **|x| pair** for feature i (S8-1) is two monosemantic neurons carrying i, one with a positive and one with a
  negative input weight, both with positive output weight on i: ReLU(x_i) + ReLU(−x_i) = |x_i|.

**Asymmetric superposition** (S8-4, :func:`find_motifs`): neuron j stores a strong feature a (its primary,
rescaled input weight 1) and a weak feature b (rescaled input weight between :data:`MOTIF_WEAK` and
:data:`SECONDARY`), with output weights in the reciprocal proportion: both positive, W₂[b, j] ≥ 2 W₂[a, j], and
each feature passed through j with about the same gain (|W₁[j, i]| W₂[i, j] within a factor 2 of each other). So
neuron j reads b weakly and writes it strongly, and the reverse for a: when a fires alone, j writes
|W₁[j, a]| W₂[b, j] x_a onto output b, a large positive interference. The motif is complete when an **inhibitory**
neuron k ≠ j fires on the same side of a (W₁[k, a] of W₁[j, a]'s sign) with a negative output weight on b and
turns the total, Σ_k W₂[b, k] ReLU(s_a W₁[k, a]), negative: the output ReLU then removes the interference.

Tables: ``computation_pairs.csv`` (the n = 3, m = 6 run: every model's |x| pairs), ``computation_neurons.csv`` (the
100 → 40 sweep: every neuron of each density's model), ``computation_points.csv`` (per density: polysemantic
share, the primary-feature statistics, motifs found) and ``computation_motifs.csv`` (every motif found).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from tms.stats import spearman
from tms.tables import Column, Schema
from tms.analysis.folder import ExperimentFolder

PAIRS_RUN, SWEEP_RUN = "n3", "n100"
"""The experiment's run folders: n = 3, m = 6 (S8-1) and the 100 → 40 sweep over densities (S8-2…S8-4)."""
CARRY = 0.25
"""A neuron carries a feature when its rescaled |weight| is at least this (the weak feature of the paper's motif,
[2, −½], sits at 0.25)."""
SECONDARY = 0.5
"""A secondary weight of at most this is a 'small' one: the primary feature is at least twice as large."""
DEAD_WEIGHT = 0.05
"""A neuron whose largest |W₁| weight or output-weight norm is below this computes nothing (init: about 0.02)."""
MOTIF_WEAK = 0.1
"""The motif's weak feature has a rescaled input weight of at least this (below, it is noise rather than stored)."""
MOTIF_OUTPUT_RATIO = 2.0
"""The motif's output weights: W₂[b, j] ≥ 2 W₂[a, j] (the paper's [½, 2]: 4)."""
MOTIF_GAIN_RATIO = 2.0
"""The motif's gains |W₁[j, i]| W₂[i, j] of its two features are within this factor of each other."""
MONO, POLY, DEAD = "monosemantic", "polysemantic", "dead"

PAIRS = Schema("computation_pairs.csv", (
    Column("instance", "int"), Column("setting", "int"), Column("restart", "int"), Column("density", "float"),
    Column("loss", "float"), Column("best", "bool"),
    Column("pairs", "int", "features with an |x| pair: a positive and a negative monosemantic neuron"),
    Column("monosemantic", "int"), Column("polysemantic", "int"), Column("dead", "int"),
    Column("layout", "str", "per feature, its neurons' input signs, e.g. '0:+- 1:+- 2:+-'"),
))
NEURONS = Schema("computation_neurons.csv", (
    Column("setting", "int"), Column("density", "float"), Column("instance", "int"), Column("neuron", "int"),
    Column("order", "int", "position in the figure: neurons sorted by their primary feature's importance"),
    Column("label", "str", f"{MONO} / {POLY} / {DEAD}"),
    Column("primary", "int", "the feature of the largest |W₁| weight (importance rank: 0 is the most important)"),
    Column("scale", "float", "the largest |W₁| weight, which the rescaled weights divide by"),
    Column("carried", "int", f"features with rescaled |W₁| ≥ {CARRY:g}"),
    Column("secondary", "float", "the second-largest rescaled |W₁| weight"),
    Column("output_norm", "float", "‖W₂[:, k]‖"),
    Column("features", "str", "the carried features, strongest first"),
    Column("weights", "str", "their rescaled input weights"),
))
POINTS = Schema("computation_points.csv", (
    Column("setting", "int"), Column("density", "float"), Column("loss", "float"),
    Column("alive", "int", "neurons that are not dead"), Column("monosemantic", "int"),
    Column("polysemantic", "int"), Column("poly_share", "float", "polysemantic / alive"),
    Column("mean_carried", "float", "features carried per alive neuron"),
    Column("rho", "float", "Spearman correlation over alive neurons of the primary feature's rank and the number of "
                           "features carried (empty where either is constant)"),
    Column("mono_primary", "float", "mean primary-feature rank of the monosemantic neurons (empty: none)"),
    Column("poly_primary", "float", "mean primary-feature rank of the polysemantic neurons (empty: none)"),
    Column("dominant_share", "float", f"polysemantic neurons whose secondary weight ≤ {SECONDARY:g} (empty: none)"),
    Column("motifs", "int", "asymmetric-superposition motifs found (neuron, strong, weak feature)"),
))
MOTIFS = Schema("computation_motifs.csv", (
    Column("setting", "int"), Column("density", "float"), Column("instance", "int"),
    Column("neuron", "int", "j: stores both features"), Column("strong", "int", "a"), Column("weak", "int", "b"),
    Column("w_strong", "float", "W₁[j, a]"), Column("w_weak", "float", "W₁[j, b]"),
    Column("out_strong", "float", "W₂[a, j]"), Column("out_weak", "float", "W₂[b, j]"),
    Column("inhibitor", "int", "k: the most inhibitory partner"),
    Column("w_inhibitor", "float", "W₁[k, a]"), Column("out_inhibitor", "float", "W₂[b, k]"),
    Column("interference", "float", "what j writes onto output b per unit of a: |W₁[j, a]| W₂[b, j]"),
    Column("net", "float", "Σ_k W₂[b, k] ReLU(s_a W₁[k, a]): the total onto b per unit of a, inhibitors included"),
))


def neurons(W1: Tensor, W2: Tensor) -> list[dict[str, Any]]:
    """Each neuron of one model (``W1 [m, n]``, ``W2 [n, m]``): label, primary feature, scale, carried features,
    secondary weight (module docstring)."""
    W1, W2 = W1.double(), W2.double()
    out = []
    for k in range(W1.shape[0]):
        row = W1[k]
        scale = float(row.abs().max())
        out_norm = float(W2[:, k].norm())
        rescaled = row / scale if scale > 0 else row
        order = sorted(range(row.numel()), key=lambda i: -abs(float(rescaled[i])))
        carried = [i for i in order if abs(float(rescaled[i])) >= CARRY]
        dead = scale < DEAD_WEIGHT or out_norm < DEAD_WEIGHT
        out.append({"neuron": k, "label": DEAD if dead else MONO if len(carried) == 1 else POLY,
                    "primary": order[0], "scale": scale, "carried": len(carried),
                    "secondary": abs(float(rescaled[order[1]])) if len(order) > 1 else 0.0, "output_norm": out_norm,
                    "features": carried, "weights": [float(rescaled[i]) for i in carried]})
    return out


def abs_pairs(W1: Tensor, W2: Tensor) -> dict[int, str]:
    """Per feature, the input signs of the monosemantic neurons carrying it with a positive output weight on it
    ('+-' for an |x| pair)."""
    cells = neurons(W1, W2)
    signs: dict[int, str] = {i: "" for i in range(W1.shape[1])}
    for c in cells:
        if c["label"] == MONO:
            i, k = c["primary"], c["neuron"]
            if float(W2[i, k]) > 0:
                signs[i] += "+" if float(W1[k, i]) > 0 else "-"
    return {i: "".join(sorted(s)) for i, s in signs.items()}


def find_motifs(W1: Tensor, W2: Tensor) -> list[dict[str, Any]]:
    """Every asymmetric-superposition motif of one model (criteria in the module docstring), strongest
    interference first."""
    W1, W2 = W1.double(), W2.double()
    m, n = W1.shape
    found = []
    for j in range(m):
        scale = float(W1[j].abs().max())
        if scale < DEAD_WEIGHT:
            continue
        a = int(W1[j].abs().argmax())
        wa, oa = float(W1[j, a]), float(W2[a, j])
        if oa <= 0:
            continue
        sign = 1.0 if wa > 0 else -1.0
        for b in range(n):
            wb, ob = float(W1[j, b]), float(W2[b, j])
            if b == a or not MOTIF_WEAK <= abs(wb) / scale <= SECONDARY or ob < MOTIF_OUTPUT_RATIO * oa:
                continue
            gains = abs(wa) * oa, abs(wb) * ob
            if max(gains) > MOTIF_GAIN_RATIO * min(gains):
                continue
            onto_b = W2[b] * torch.relu(sign * W1[:, a])  # [m]: each neuron's write onto b per unit of a
            inhibitors = [k for k in range(m) if k != j and float(onto_b[k]) < 0]
            net = float(onto_b.sum())
            if not inhibitors or net >= 0:
                continue
            k = min(inhibitors, key=lambda k: float(onto_b[k]))
            found.append({"neuron": j, "strong": a, "weak": b, "w_strong": wa, "w_weak": wb, "out_strong": oa,
                          "out_weak": ob, "inhibitor": k, "w_inhibitor": float(W1[k, a]),
                          "out_inhibitor": float(W2[b, k]), "interference": float(onto_b[j]), "net": net})
    return sorted(found, key=lambda f: -f["interference"])


CLEAR_NET = 0.05
"""The motif shown is the one with the largest interference among those whose total ends at least 5 % of it below
zero (the trained models tune the inhibition to end just below zero: totals of −0.5 % to −10 % of the interference
are typical)."""


def clearest(motifs: list[dict[str, Any]]) -> dict[str, Any]:
    """The motif to show (see :data:`CLEAR_NET`; the largest interference where none ends that far below zero)."""
    clear = [f for f in motifs if f["net"] <= -CLEAR_NET * f["interference"]]
    return max(clear or motifs, key=lambda f: f["interference"])


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def analyze_pairs(exp: ExperimentFolder) -> None:
    """Write computation_pairs.csv from the n = 3, m = 6 run."""
    if not exp.has_run(PAIRS_RUN):
        return
    r = exp.run(PAIRS_RUN)
    best = set(r.best_instances())
    rows = []
    for i, inst in enumerate(r.instances):
        W1, W2 = r.params["W1"][i], r.params["W2"][i]
        labels = [c["label"] for c in neurons(W1, W2)]
        signs = abs_pairs(W1, W2)
        rows.append({"instance": i, "setting": inst["setting"], "restart": inst["restart"],
                     "density": r.config.density[inst["setting"]][0], "loss": float(r.loss[i]), "best": i in best,
                     "pairs": sum("+" in s and "-" in s for s in signs.values()),
                     "monosemantic": labels.count(MONO), "polysemantic": labels.count(POLY),
                     "dead": labels.count(DEAD), "layout": " ".join(f"{f}:{s or '.'}" for f, s in signs.items())})
    exp.write(PAIRS, rows)


def analyze_sweep(exp: ExperimentFolder) -> None:
    """Write computation_neurons.csv, computation_points.csv and computation_motifs.csv from the sweep: the
    lowest-loss model of each density."""
    if not exp.has_run(SWEEP_RUN):
        return
    r = exp.run(SWEEP_RUN)
    cfg = r.config
    cells, points, motifs = [], [], []
    for s in range(cfg.n_settings):
        i = min(r.setting_instances(s), key=lambda k: float(r.loss[k]))
        density = cfg.density[s][0]
        W1, W2 = r.params["W1"][i], r.params["W2"][i]
        mine = neurons(W1, W2)
        for pos, c in enumerate(sorted(mine, key=lambda c: (c["label"] == DEAD, c["primary"], -c["scale"]))):
            cells.append({"setting": s, "density": density, "instance": i, "order": pos,
                          **{k: c[k] for k in ("neuron", "label", "primary", "scale", "carried", "secondary",
                                               "output_norm")},
                          "features": " ".join(map(str, c["features"])),
                          "weights": " ".join(f"{w:.3f}" for w in c["weights"])})
        alive = [c for c in mine if c["label"] != DEAD]
        mono = [c for c in alive if c["label"] == MONO]
        poly = [c for c in alive if c["label"] == POLY]
        rho = spearman([c["primary"] for c in alive], [c["carried"] for c in alive]) if mono and poly else None
        found = find_motifs(W1, W2)
        motifs += [{"setting": s, "density": density, "instance": i, **f} for f in found]
        points.append({"setting": s, "density": density, "loss": float(r.loss[i]), "alive": len(alive),
                       "monosemantic": len(mono), "polysemantic": len(poly),
                       "poly_share": len(poly) / len(alive) if alive else 0.0,
                       "mean_carried": _mean([c["carried"] for c in alive]) or 0.0, "rho": rho,
                       "mono_primary": _mean([c["primary"] for c in mono]),
                       "poly_primary": _mean([c["primary"] for c in poly]),
                       "dominant_share": _mean([float(c["secondary"] <= SECONDARY) for c in poly]),
                       "motifs": len(found)})
    exp.write(NEURONS, cells)
    exp.write(POINTS, points)
    exp.write(MOTIFS, motifs)


def analyze_computation(exp: ExperimentFolder) -> None:
    """All of §8's tables."""
    analyze_pairs(exp)
    analyze_sweep(exp)
