"""The loss-optimal curves of §4 non-uniform superposition, from the exact expected loss (:mod:`tms.exact`;
BEYOND.md, the closing paragraph of LLC): at every relative density r of the trained grid, each geometry's loss
minimised by L-BFGS from that geometry, and the r* where the pentagon's and the digons' curves cross.

Geometries (the fifth feature last):

- ``pentagon``: start from a regular pentagon of length 1.1, bias −0.15 (features in angular order);
- ``digons``: features 0-3 as two orthogonal antipodal pairs of length 1, bias 0; the fifth feature nearly
  dropped (‖W_4‖ = 0.05, between the pairs, so that a saddle is left rather than kept), bias p₄/2 (its mean);
- ``digons_dead``: the same with the fifth feature's column held at 0 and its bias at −0.5 (its output dead).

The minimum is labelled with the trained fits' classifier (:func:`.analysis.classify`): where a geometry is not a
local minimum, L-BFGS leaves it and the label says so; the curve is drawn where the label is the geometry's.
(Starting each point from the previous point's minimum instead saves nothing: at a gradient tolerance of 1e-8
L-BFGS spends its steps on the last digits.)

Tables (written once: skipped when present for the same grid and settings):

- ``nonuniform_exact.csv``: per relative density (the trained grid's and the paper's snap, 0.4) and geometry
  the minimum's loss (the paper's sum over features, and the trainer's mean), its QMC error bound, largest
  gradient entry, label and the fifth feature's norm and bias;
- ``nonuniform_exact_crossing.csv``: r* against the digons and against the digons with a dead fifth output
  (Brent's method on the difference of the two minimised losses), the losses there and the settings.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
from scipy.optimize import brentq

from tms.analysis.folder import ExperimentFolder
from tms.engines.threads import Workers
from tms.exact import Minimum, minimise, sobol_points
from tms.tables import Column, Schema
from .analysis import BASE_DENSITY, DIGONS, PENTAGON, classify

DEAD = "digons_dead"
GEOMETRIES = (PENTAGON, DIGONS, DEAD)
SAMPLES, REPLICATES, SEED = 256, 4, 0
"""Scrambled Sobol points for the patterns with ≥ 3 active features (probability ~1e-3 at these densities)."""
TOLERANCE = 1e-8
"""L-BFGS stops when every gradient entry is below this (BEYOND.md: gradients below 1e-8)."""
R_TOL = 1e-5
"""Brent's method stops when r* is known to this (absolute)."""
N_FEATURES = 5
PAPER_SNAP = 0.4
"""The paper's "about 2.5x sparser": the exact curves are computed here too, beside the trained grid."""

EXACT = Schema("nonuniform_exact.csv", (
    Column("relative_density", "float"), Column("geometry", "str", " / ".join(GEOMETRIES) + ": the start"),
    Column("loss", "float", "exact expected loss at the minimum, summed over features (the paper's §0)"),
    Column("loss_mean", "float", "the same over 5: the trainer's mean over features"),
    Column("error", "float", "bound on the QMC part's error (3 standard errors)"),
    Column("grad_max", "float", "largest gradient entry at the minimum"),
    Column("label", "str", "the minimum's geometry (the trained fits' classifier)"),
    Column("fifth_norm", "float"), Column("fifth_bias", "float"), Column("evaluations", "int"),
))
CROSSING = Schema("nonuniform_exact_crossing.csv", (
    Column("against", "str", f"{DIGONS} or {DEAD}"),
    Column("r_star", "float", "relative density where the pentagon's minimised loss equals the other's; empty: no "
                              "sign change on the grid"),
    Column("loss", "float", "the two losses there (sum over features)"),
    Column("points", "int", "grid points the exact curves were computed at"),
    Column("samples", "int"), Column("replicates", "int"), Column("seed", "int"), Column("tolerance", "float"),
))


def densities(r: float) -> list[float]:
    return [BASE_DENSITY] * 4 + [BASE_DENSITY * r]


def start(geometry: str, r: float) -> tuple[torch.Tensor, torch.Tensor, tuple[int, ...]]:
    """``(W [2, 5], b [5], frozen features)``: where L-BFGS starts for ``geometry`` at relative density ``r``."""
    f64 = torch.float64
    if geometry == PENTAGON:
        angle = math.pi / 2 + 2 * math.pi * torch.arange(N_FEATURES, dtype=f64) / N_FEATURES
        angle = torch.roll(angle, 1)  # feature 1 at π/2, the fifth at π/2 + 216° (in a regular pentagon any order)
        return 1.1 * torch.stack([torch.cos(angle), torch.sin(angle)]), torch.full((5,), -0.15, dtype=f64), ()
    W = torch.tensor([[1.0, 0.0, -1.0, 0.0, 0.0], [0.0, 1.0, 0.0, -1.0, 0.0]], dtype=f64)
    b = torch.zeros(N_FEATURES, dtype=f64)
    if geometry == DEAD:
        b[4] = -0.5
        return W, b, (4,)
    W[:, 4] = 0.05 / math.sqrt(2)
    b[4] = BASE_DENSITY * r / 2
    return W, b, ()


def optimum(geometry: str, r: float, points: torch.Tensor, near: Minimum | None = None) -> Minimum:
    """The minimum L-BFGS reaches from ``geometry`` at ``r``, or from ``near`` (a minimum of the same geometry at
    a nearby r, as Brent's method steps; the digons' fifth column is moved back to its start, 0.05 off zero, so
    that a saddle is still left)."""
    W, b, frozen = start(geometry, r)
    if near is not None:
        fifth = W[:, 4].clone()
        W, b = near.W.clone(), near.b.clone()
        if geometry == DIGONS:
            W[:, 4] = fifth
    return minimise(W, b, densities(r), frozen=frozen, points=points, tolerance=TOLERANCE)


def _row(geometry: str, r: float, m: Minimum) -> dict[str, Any]:
    return {"relative_density": r, "geometry": geometry, "loss": m.loss, "loss_mean": m.loss / N_FEATURES,
            "error": m.error, "grad_max": m.grad_max, "label": classify(m.W), "fifth_norm": float(m.W[:, 4].norm()),
            "fifth_bias": float(m.b[4]), "evaluations": m.evaluations}


def crossing(rows: list[dict[str, Any]], against: str, points: torch.Tensor) -> dict[str, Any]:
    """r* between the first two grid points where the pentagon's curve goes from above ``against``'s to below,
    both minima keeping their geometry, refined by Brent's method; each step starts from the previous step's
    minima (the same basins a small change of r away)."""
    kept = {g: {row["relative_density"]: row["loss"] for row in rows if row["geometry"] == g
                and row["label"] == (PENTAGON if g == PENTAGON else DIGONS)} for g in (PENTAGON, against)}
    both = sorted(set(kept[PENTAGON]) & set(kept[against]))
    diff = [kept[PENTAGON][r] - kept[against][r] for r in both]
    for (r0, d0), (r1, d1) in zip(zip(both, diff), zip(both[1:], diff[1:])):
        if d0 > 0 >= d1:
            last = {g: optimum(g, r0, points) for g in (PENTAGON, against)}

            def gap(r: float) -> float:
                for g in last:
                    last[g] = optimum(g, r, points, last[g])
                return last[PENTAGON].loss - last[against].loss

            star = brentq(gap, r0, r1, xtol=R_TOL)
            gap(star)
            return {"against": against, "r_star": star, "loss": last[PENTAGON].loss}
    return {"against": against, "r_star": None, "loss": None}


def _compute(ratios: list[float]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    points = sobol_points(N_FEATURES, SAMPLES, REPLICATES, SEED)
    rows = [_row(g, r, optimum(g, r, points)) for r in ratios for g in GEOMETRIES]
    return rows, [{**crossing(rows, against, points), **settings(len(ratios))} for against in (DIGONS, DEAD)]


def settings(points: int) -> dict[str, Any]:
    return {"points": points, "samples": SAMPLES, "replicates": REPLICATES, "seed": SEED, "tolerance": TOLERANCE}


def analyze_exact(exp: ExperimentFolder, run: str = "") -> None:
    """Write nonuniform_exact.csv and nonuniform_exact_crossing.csv for the trained grid's relative densities
    (skipped when both are there for the same grid and settings)."""
    cfg = exp.run(run).config
    ratios = sorted({d[4] / d[0] for d in cfg.density} | {PAPER_SNAP})
    if exp.has(EXACT) and exp.has(CROSSING):
        done = exp.read(CROSSING)
        grid = sorted({row["relative_density"] for row in exp.read(EXACT)})
        if done and all(done[0][k] == v for k, v in settings(len(ratios)).items()) and grid == sorted(ratios):
            return
    rows, found = exact_tables(tuple(ratios))
    exp.write(EXACT, [dict(row) for row in rows])
    exp.write(CROSSING, [dict(row) for row in found])


@functools.lru_cache(maxsize=4)
def exact_tables(ratios: tuple[float, ...]) -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
    """The rows of both tables for a grid (a pure function of it, remembered: another folder with the same grid,
    as in the tests, costs nothing). One intra-op thread: these tensors are tiny, and on a busy machine torch's
    thread pool multiplied the CPU time by ten (measured: 21 s on one thread, 260 s with the default count on a
    loaded 2-core host)."""
    with Workers(1, 1, name="tms-exact") as pool:
        rows, found = pool.run([lambda: _compute(list(ratios))])[0]
    return tuple(rows), tuple(found)
