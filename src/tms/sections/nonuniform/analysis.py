"""§4 non-uniform superposition (PAPER.md §4): 5 features in 2 dimensions, four of density 0.05 and the fifth
(the last) at a relative density r; each fit labelled by its geometry.

- ``pentagon``: all five represented (‖W_i‖ > 0.5), every gap between angular neighbours between
  :data:`PENTAGON_GAP` degrees (a pentagon deformed by the fifth feature's density, not a regular one);
- ``digons``: the four others as two antipodal pairs (1 + cos ≤ 0.1), the fifth not represented;
- ``other``: anything else.

Tables:

- ``nonuniform_fits.csv``: every fit: r, loss, label, the angle between the fifth feature's two neighbours, each
  feature's norm and bias, and its W rotated and reflected to one orientation (the fifth feature, or feature 0
  where the fifth is dropped, pointing up; feature 0, or 1, to the right) for the embedding figure;
- ``nonuniform_points.csv``: every relative density: the lowest-loss fit's label and loss, and the lowest loss
  of each geometry (two curves that cross where the best geometry snaps).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from tms.tables import Column, Schema
from tms.analysis.folder import ExperimentFolder
from tms.geometry import TOL, adjacent_gaps_deg, pairings, represented

PENTAGON, DIGONS, OTHER = "pentagon", "digons", "other"
LABELS = (PENTAGON, DIGONS, OTHER)
PENTAGON_GAP = (20.0, 160.0)
"""Gaps between angular neighbours a (deformed) pentagon keeps (a regular one: 72°)."""
BASE_DENSITY = 0.05
"""The density of the four other features (PAPER.md §4)."""

FITS = Schema("nonuniform_fits.csv", (
    Column("instance", "int"), Column("setting", "int"), Column("restart", "int"),
    Column("relative_density", "float", "the fifth feature's density / 0.05"), Column("loss", "float"),
    Column("best", "bool"), Column("label", "str", " / ".join(LABELS)),
    Column("fifth_gap", "float", "degrees between the fifth feature's two angular neighbours (pentagons)"),
    *(Column(f"norm_{i}", "float") for i in range(5)), *(Column(f"bias_{i}", "float") for i in range(5)),
    *(Column(f"{axis}_{i}", "float", "W_i rotated and reflected to the common orientation") for i in range(5)
      for axis in ("x", "y")),
))
SUMMARY = Schema("nonuniform_summary.csv", (
    Column("snap", "float", "relative density where the lowest-loss fit turns from two digons (below) into a "
                            "pentagon (above): the geometric mean of the two grid points; empty: no such switch"),
    Column("switches", "int", "changes of the lowest-loss fit's geometry along the grid"),
    Column("crossing", "float", "relative density where the lowest pentagon and the lowest digon losses cross "
                                "(interpolated in log density); empty: they do not cross"),
    Column("grid_step", "float", "log10 spacing of the grid"),
))
POINTS = Schema("nonuniform_points.csv", (
    Column("setting", "int"), Column("relative_density", "float"), Column("fits", "int"),
    Column("best_label", "str"), Column("best_loss", "float"),
    *(Column(f"{label}_fits", "int") for label in LABELS),
    *(Column(f"{label}_loss", "float", f"lowest loss of the {label} fits (empty: none)") for label in LABELS),
))


def classify(W: Tensor) -> str:
    """The geometry of one ``[2, 5]`` fit whose last feature is the varied one."""
    rep = represented(W)
    if len(rep) == 5:
        lo, hi = PENTAGON_GAP
        if all(lo <= g <= hi for g in adjacent_gaps_deg(W, rep)):
            return PENTAGON
    if rep == [0, 1, 2, 3]:
        unit = W.double() / W.double().norm(dim=0).clamp_min(1e-12)
        for pairs in pairings(rep):
            if all(1.0 + float(unit[:, i] @ unit[:, j]) <= TOL for i, j in pairs):
                return DIGONS
    return OTHER


def fifth_gap(W: Tensor) -> float:
    """Degrees between the angular neighbours of the last feature (NaN unless all five are represented)."""
    rep = represented(W)
    if len(rep) != 5:
        return math.nan
    angle = [math.degrees(math.atan2(float(W[1, i]), float(W[0, i]))) % 360.0 for i in range(5)]
    order = sorted(range(5), key=lambda i: angle[i])
    k = order.index(4)
    before, after = angle[order[k - 1]], angle[order[(k + 1) % 5]]
    return (after - before) % 360.0


def canonical(W: Tensor) -> Tensor:
    """``W`` rotated so that the fifth feature (feature 0 where the fifth is not represented) points up, and
    reflected so that feature 0 (feature 1 when feature 0 points up) lies to the right."""
    W = W.double()
    anchor = 4 if float(W[:, 4].norm()) > 0.5 else 0
    a = math.atan2(float(W[1, anchor]), float(W[0, anchor]))
    turn = math.pi / 2 - a
    R = torch.tensor([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]], dtype=torch.float64)
    out = R @ W
    side = 0 if anchor == 4 else 1
    if float(out[0, side]) < 0:
        out[0] = -out[0]
    return out


def analyze_nonuniform(exp: ExperimentFolder, run: str = "") -> None:
    """Write nonuniform_fits.csv and nonuniform_points.csv."""
    r = exp.run(run)
    cfg = r.config
    best = set(r.best_instances())
    loss = r.loss.tolist()
    fits = []
    for i in range(cfg.n_instances):
        W = r.W[i]
        s = r.instances[i]["setting"]
        c = canonical(W)
        row = {"instance": i, "setting": s, "restart": r.instances[i]["restart"],
               "relative_density": cfg.density[s][4] / cfg.density[s][0], "loss": loss[i], "best": i in best,
               "label": classify(W), "fifth_gap": fifth_gap(W)}
        row.update({f"norm_{k}": float(W[:, k].double().norm()) for k in range(5)})
        row.update({f"bias_{k}": float(r.b[i, k]) for k in range(5)})
        row.update({f"{axis}_{k}": float(c[a, k]) for k in range(5) for a, axis in enumerate(("x", "y"))})
        fits.append(row)
    exp.write(FITS, fits)
    points = []
    for s in range(cfg.n_settings):
        mine = [f for f in fits if f["setting"] == s]
        top = min(mine, key=lambda f: f["loss"])
        row: dict[str, Any] = {"setting": s, "relative_density": top["relative_density"], "fits": len(mine),
                               "best_label": top["label"], "best_loss": top["loss"]}
        for label in LABELS:
            sel = [f["loss"] for f in mine if f["label"] == label]
            row[f"{label}_fits"] = len(sel)
            row[f"{label}_loss"] = min(sel) if sel else None
        points.append(row)
    exp.write(POINTS, points)
    exp.write(SUMMARY, [summary(points)])


def summary(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Where the best geometry snaps and where the two loss curves cross (see :data:`SUMMARY`)."""
    pts = sorted(points, key=lambda p: p["relative_density"])
    r = [p["relative_density"] for p in pts]
    labels = [p["best_label"] for p in pts]
    switches = sum(a != b for a, b in zip(labels, labels[1:]))
    snap = None
    for k in range(len(pts) - 1):
        if labels[k] == DIGONS and labels[k + 1] == PENTAGON:
            snap = math.sqrt(r[k] * r[k + 1])
            break
    both = [(math.log10(p["relative_density"]), math.log(p[f"{PENTAGON}_loss"]) - math.log(p[f"{DIGONS}_loss"]))
            for p in pts if p[f"{PENTAGON}_loss"] is not None and p[f"{DIGONS}_loss"] is not None]
    crossing = None
    for (x0, d0), (x1, d1) in zip(both, both[1:]):
        if d0 > 0 >= d1:  # digons cheaper below, the pentagon above
            crossing = 10 ** (x0 + (x1 - x0) * d0 / (d0 - d1))
            break
    step = (math.log10(r[-1]) - math.log10(r[0])) / max(len(r) - 1, 1)
    return {"snap": snap, "switches": switches, "crossing": crossing, "grid_step": step}
