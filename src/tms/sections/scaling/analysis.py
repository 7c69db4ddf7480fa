"""Superposition and neural scaling (BEYOND.md SCALE; Liu, Liu & Gore 2025): the measures of every model and the
power laws fitted across the widths m.

Tables:

- ``scaling_models.csv``: one row per model (run × frequency-law exponent α): γ, m, α, the final loss (mean over
  features; the paper's figures plot n times it), φ½, the mean squared overlap of the represented features'
  unit vectors and its Welch bound, and the convergence check (the loss's relative change over the last tenth of
  training, both losses on the same fixed evaluation batches: the snapshot at :func:`check_step` against the final
  weights; ``converged`` when at most :data:`CONVERGED`);
- ``scaling_fits.csv``: per γ and α of the width grid, the exponent of the loss against m and of the overlap
  against m (log-log least squares with 95 % intervals, :func:`tms.fits.fit_power_law`) over the *converged*
  models only, and how many were left out.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from tms.analysis.folder import ExperimentFolder
from tms.errors import ConfigError
from tms.fits import fit_power_law
from tms.metrics import mean_squared_overlap, share_represented, welch_bound
from tms.tables import Column, Schema
from tms.train import evaluate

CONVERGED = 0.05
"""The convergence check: a model whose loss still fell by more than 5 % over the last tenth of training is not
read by a claim (BEYOND.md SCALE: 'check convergence')."""
CHECK_AT = 0.9
"""The convergence check compares the weights at this share of training (a stored snapshot) with the final ones."""


def check_step(steps: int) -> int:
    """The training step of the convergence check's snapshot: 90 % of ``steps``."""
    return int(round(CHECK_AT * steps))


def convergence_change(config, at_check, final) -> torch.Tensor:
    """``[inst]`` (L(at_check) − L(final)) / L(final), both losses on the same fixed evaluation batches
    (:func:`tms.train.evaluate`, the run's evaluation stream): paired, so a batch's rare features weigh on both and
    the training batches' noise (the α = 2 loss is dominated by rare features: 8-33 % between windows of the
    logged training loss) does not read as a change."""
    device = torch.device("cpu")
    before, end = evaluate(config, at_check, device).double(), evaluate(config, final, device).double()
    return ((before - end) / end.clamp_min(1e-30)).float()
STRONG, WEAK_RANGE = -1.0, (0.1, 0.5)
"""γ of strong superposition, and the range of γ read as weak (BEYOND.md SCALE-1, SCALE-2); the claims and figures
read them from here."""
REPRESENTED = 0.5
"""The norm above which a feature counts as represented (φ½), and whose vectors the overlap is taken over."""

MODELS = Schema("scaling_models.csv", (
    Column("run", "str"), Column("instance", "int"), Column("gamma", "float", "Liu, Liu & Gore's γ on W"),
    Column("m", "int"), Column("n", "int"), Column("alpha", "float", "the paper's frequency-law exponent α (p_i ∝ i^−α)"),
    Column("steps", "int", "training steps"),
    Column("loss", "float", "final loss on fresh draws, mean over features (the paper plots n times it)"),
    Column("phi_half", "float", "share of features with ‖W_i‖ > ½"),
    Column("overlap", "float", "mean squared overlap of the represented features' unit vectors (empty: < 2)"),
    Column("welch", "float", "the Welch bound (n − m)/(m (n − 1)) on it"),
    Column("relative_change", "float", "(L(0.9 T) − L(T)) / L(T), both on the same fixed evaluation batches"),
    Column("converged", "bool", f"relative_change ≤ {CONVERGED:g}"),
))
FITS = Schema("scaling_fits.csv", (
    Column("gamma", "float"), Column("alpha", "float"), Column("steps", "int", "training steps"),
    Column("models", "int", "models at this γ, α and length of training"),
    Column("converged", "int", "of them converged: the fit's points"),
    Column("loss_exponent", "float", "α_m: loss ∝ m^−α_m (empty: fewer than 2 converged)"),
    Column("loss_lo", "float", "95 % interval of α_m"), Column("loss_hi", "float"),
    Column("overlap_exponent", "float", "overlap ∝ m^k"), Column("overlap_lo", "float"), Column("overlap_hi", "float"),
))


def model_rows(exp: ExperimentFolder) -> list[dict[str, Any]]:
    """Every model's measures, read from the stored runs (weights, final losses, training logs)."""
    rows = []
    for name in sorted(exp.run_names()):
        run = exp.run(name)
        config = run.config
        gamma = config.recipe.gamma
        if gamma is None:
            raise ConfigError(f"scaling run {name} has no gamma")
        alphas = _alphas(config.density)
        W = run.params["W"]
        change = convergence_change(config, run.snapshots.at(check_step(config.recipe.steps)), run.params)
        phi, overlap = share_represented(W, REPRESENTED), mean_squared_overlap(W, REPRESENTED)
        for i in range(config.n_instances):
            ov = float(overlap[i])
            rows.append({"run": name, "instance": i, "gamma": gamma, "m": config.n_hidden, "n": config.n_features,
                         "alpha": alphas[i // config.restarts], "steps": config.recipe.steps,
                         "loss": float(run.loss[i]), "phi_half": float(phi[i]),
                         "overlap": None if math.isnan(ov) else ov, "welch": welch_bound(config.n_features,
                                                                                           config.n_hidden),
                         "relative_change": float(change[i]), "converged": bool(change[i] <= CONVERGED)})
    return rows


def _alphas(density) -> list[float]:
    """The frequency-law exponent of each setting, read back from its densities: p_1/p_2 = 2^α."""
    return [round(math.log2(row[0] / row[1]), 6) for row in density]


MIN_WIDTHS = 3
"""A γ trained at fewer widths (the φ½ sweep: one) gets no fit."""


def fit_rows(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per γ, α and length of training at :data:`MIN_WIDTHS` widths or more: the power laws over the converged
    models."""
    out = []
    keys = sorted({(r["gamma"], r["alpha"], r.get("steps")) for r in models})
    for gamma, alpha, steps in keys:
        sel = sorted((r for r in models if (r["gamma"], r["alpha"], r.get("steps")) == (gamma, alpha, steps)),
                     key=lambda r: r["m"])
        if len({r["m"] for r in sel}) < MIN_WIDTHS:
            continue
        good = [r for r in sel if r["converged"]]
        row = {"gamma": gamma, "alpha": alpha, "steps": steps, "models": len(sel), "converged": len(good)}
        row.update(_fit("loss", good, "loss", negate=True))
        row.update(_fit("overlap", [r for r in good if r["overlap"]], "overlap"))
        out.append(row)
    return out


def _fit(prefix: str, rows: list[dict[str, Any]], column: str, negate: bool = False) -> dict[str, Any]:
    if len({r["m"] for r in rows}) < 2:
        return {f"{prefix}_exponent": None, f"{prefix}_lo": None, f"{prefix}_hi": None}
    fit = fit_power_law([r["m"] for r in rows], [r[column] for r in rows])
    sign = -1.0 if negate else 1.0
    lo, hi = sorted((sign * fit.lo, sign * fit.hi))
    return {f"{prefix}_exponent": sign * fit.exponent, f"{prefix}_lo": lo if math.isfinite(lo) else None,
            f"{prefix}_hi": hi if math.isfinite(hi) else None}


def analyze_scaling(exp: ExperimentFolder) -> None:
    """scaling_models.csv and scaling_fits.csv from the stored runs."""
    models = model_rows(exp)
    exp.write(MODELS, models)
    exp.write(FITS, fit_rows(models))
