"""§7 superposition in a privileged basis (PAPER.md §7, experiment ``privileged``): the hidden-ReLU model
h = ReLU(W x), x' = ReLU(Wᵀ h + b), read neuron by neuron.

Row k of W is neuron k's input weights; column i is feature i's weights on the neurons. A feature is represented
when ‖W_i‖ > REPRESENTED_NORM; neuron k **carries** a represented feature i when |W_ki| ≥ :data:`CARRY`. A neuron
is ``monosemantic`` when it carries one feature, ``polysemantic`` when it carries several, ``dead`` when none.
A model's **regime** is (features represented, monosemantic neurons, polysemantic neurons).

Tables: ``privileged_models.csv`` (every model), ``privileged_points.csv`` (per density: the lowest-loss model's
regime and how many restarts reached it), ``privileged_neurons.csv`` (the lowest-loss model's neurons).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from tms.layout import REPRESENTED_NORM
from tms.tables import Column, Schema
from tms.analysis.folder import ExperimentFolder

CARRY = 0.2
"""A neuron carries a feature when |weight| ≥ 0.2: a trained feature's weights are 0.5-4, what is left of an unused
feature's random init after weight decay below 0.1."""
MONO, POLY, DEAD = "monosemantic", "polysemantic", "dead"

MODELS = Schema("privileged_models.csv", (
    Column("instance", "int"), Column("setting", "int"), Column("restart", "int"), Column("density", "float"),
    Column("loss", "float"), Column("best", "bool"),
    Column("represented", "int", f"features with ‖W_i‖ > {REPRESENTED_NORM:g}"),
    Column("monosemantic", "int", f"neurons carrying one represented feature (|w| ≥ {CARRY:g})"),
    Column("polysemantic", "int", "neurons carrying several"), Column("dead", "int", "neurons carrying none"),
    Column("regime", "str", "represented/monosemantic/polysemantic"),
))
POINTS = Schema("privileged_points.csv", (
    Column("setting", "int"), Column("density", "float"), Column("restarts", "int"), Column("best_loss", "float"),
    Column("represented", "int"), Column("monosemantic", "int"), Column("polysemantic", "int"),
    Column("regime", "str"), Column("reached", "int", "restarts whose model is in the lowest-loss model's regime"),
    Column("runner_up", "str", "the regime of the lowest-loss restart in another regime (empty: none)"),
    Column("gap", "float", "its loss above the lowest, relative (empty: none)"),
))
NEURONS = Schema("privileged_neurons.csv", (
    Column("setting", "int"), Column("density", "float"), Column("instance", "int"), Column("neuron", "int"),
    Column("label", "str", f"{MONO} / {POLY} / {DEAD}"),
    Column("features", "str", "the represented features it carries, strongest first"),
    Column("weights", "str", "their weights"),
))


def neurons(W: Tensor) -> list[dict[str, Any]]:
    """Each neuron of one ``[m, n]`` W: its label and the features it carries (strongest first)."""
    W = W.double()
    rep = W.norm(dim=0) > REPRESENTED_NORM
    out = []
    for k in range(W.shape[0]):
        carried = sorted((i for i in range(W.shape[1]) if rep[i] and abs(float(W[k, i])) >= CARRY),
                         key=lambda i: -abs(float(W[k, i])))
        label = DEAD if not carried else MONO if len(carried) == 1 else POLY
        out.append({"neuron": k, "label": label, "features": carried, "weights": [float(W[k, i]) for i in carried]})
    return out


def regime(W: Tensor) -> dict[str, Any]:
    """(represented, monosemantic, polysemantic, dead) of one ``[m, n]`` W, and the regime as text."""
    labels = [n["label"] for n in neurons(W)]
    counts = {"represented": int((W.double().norm(dim=0) > REPRESENTED_NORM).sum()),
              "monosemantic": labels.count(MONO), "polysemantic": labels.count(POLY), "dead": labels.count(DEAD)}
    counts["regime"] = f"{counts['represented']}/{counts['monosemantic']}/{counts['polysemantic']}"
    return counts


def analyze_privileged(exp: ExperimentFolder, run: str = "") -> None:
    """Write privileged_models.csv, privileged_points.csv and privileged_neurons.csv."""
    r = exp.run(run)
    cfg = r.config
    best = set(r.best_instances())
    rows = []
    for i, inst in enumerate(r.instances):
        rows.append({"instance": i, "setting": inst["setting"], "restart": inst["restart"],
                     "density": cfg.density[inst["setting"]][0], "loss": float(r.loss[i]), "best": i in best,
                     **regime(r.W[i])})
    exp.write(MODELS, rows)
    points, cells = [], []
    for s in range(cfg.n_settings):
        mine = [m for m in rows if m["setting"] == s]
        top = min(mine, key=lambda m: m["loss"])
        other = min((m for m in mine if m["regime"] != top["regime"]), key=lambda m: m["loss"], default=None)
        points.append({"setting": s, "density": top["density"], "restarts": len(mine), "best_loss": top["loss"],
                       **{k: top[k] for k in ("represented", "monosemantic", "polysemantic", "regime")},
                       "reached": sum(m["regime"] == top["regime"] for m in mine),
                       "runner_up": other["regime"] if other else None,
                       "gap": (other["loss"] - top["loss"]) / top["loss"] if other else None})
        for n in neurons(r.W[top["instance"]]):
            cells.append({"setting": s, "density": top["density"], "instance": top["instance"], "neuron": n["neuron"],
                          "label": n["label"], "features": " ".join(map(str, n["features"])),
                          "weights": " ".join(f"{w:.3f}" for w in n["weights"])})
    exp.write(POINTS, points)
    exp.write(NEURONS, cells)
