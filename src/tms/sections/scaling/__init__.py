"""Superposition and neural scaling (BEYOND.md SCALE; Liu, Liu & Gore 2025, "Superposition Yields Robust Neural
Scaling").

The ReLU model x' = ReLU(WᵀW x + b) on n features whose frequencies follow a power law, p_i ∝ i^−α with one
active feature per sample on average and values U(0, 2), trained at several widths m and superposition knobs γ
(Liu et al.'s decay of W: γ = −1 keeps every feature's norm near 1, strong superposition; γ > 0 lets rare features
decay away, weak superposition). SCALE-1: in strong superposition the loss falls as about 1/m whatever α;
SCALE-2: in weak superposition as m^−(α−1); SCALE-3: in strong superposition the feature vectors' mean squared
overlap falls as 1/m, near the Welch bound. Trained by the sparse engine (:mod:`tms.engines.sparse`).
"""

from __future__ import annotations

import dataclasses

from tms.config import Recipe, RunConfig
from tms.experiment import Experiment, FigureSpec, Param, load_notes
from . import figures
from .analysis import CONVERGED, STRONG, analyze_scaling, check_step
from .claims import CLAIMS, WEAK_PHI

N_FEATURES = 1000
WIDTHS = (8, 16, 32, 64)
ALPHAS = (1.5, 2.0)
"""The paper's α (p_i ∝ i^−α); their code's a = α − 1."""
WEAK = 0.1
"""γ of the weak runs: at 0.3 only 3-11 of the 1000 features stayed represented at m = 8-32 and the loss barely fell
with m at α = 1.5 (calibration, notes)."""
SWEEP = (-1.0, -0.5, 0.0, 0.1, 0.5, 1.0)
"""γ of the φ½ sweep, at width :data:`SWEEP_WIDTH`."""
SWEEP_WIDTH = 16
STEPS, BATCH = 3000, 1024
LONG_ALPHA, LONG_STEPS = 2.0, 10_000
"""The strong runs at paper α = 2 train again, alone, for 10 000 steps: their rarest features are seen ~25x less
often than at α = 1.5 (BEYOND.md: "at m ≥ 32 use ≥ 10-20 k steps"), and at 3 000 steps their overlap's slope is
−0.76 (notes). SCALE-3 reads each α's longest-trained strong series; SCALE-1 reads α ≤ 1.5 only."""
VALUE_MAX = 2.0
QUICK_N, QUICK_WIDTHS, QUICK_SWEEP = 200, (4, 8, 16), (-1.0, 0.1)

FULL_WIDTHS = (10, 15, 25, 39, 63, 100)
FULL_SWEEP = tuple(round(-1 + 2 * k / 9, 6) for k in range(10))
FULL_ALPHAS = tuple(round(1 + k / 8, 6) for k in range(9))
"""``--scaling-grid 2``: the paper's grid (their exp-10): m from 10 to 100, γ = linspace(−1, 1, 10) at every width,
α from 1 to 2 in 9 steps, 20 000 steps at batch 2048."""


def recipe(gamma: float, quick: bool, steps: int = STEPS, batch: int = BATCH) -> Recipe:
    """Liu, Liu & Gore's recipe (exp-10): AdamW at lr 1e-2 with γ on W (b undecayed), linear warm-up over a tenth of
    training (theirs: 2 000 of 20 000 steps), cosine decay to 0.05 × lr; W ~ N(0, 1/m), b ~ N(0, 1)."""
    r = Recipe(steps=steps, batch_size=batch, lr=1e-2, gamma=gamma, schedule="cosine", warmup_steps=steps // 10,
               lr_floor=0.05, init="scaling", log_every=max(1, steps // 300))
    # the quick runs log every 3rd step so that the convergence check has points in both of its windows
    return dataclasses.replace(r.quick(), log_every=3) if quick else r


def _config(n: int, m: int, alphas: tuple[float, ...], gamma: float, quick: bool, steps: int, batch: int,
            seed: int = 0) -> RunConfig:
    return RunConfig.power_law(n, m, alphas, value_max=VALUE_MAX, recipe=recipe(gamma, quick, steps, batch), seed=seed)


def run_name(gamma: float, m: int, long_steps: int | None = None) -> str:
    """``gamma-1/m8``; a long α = 2 run: ``gamma-1/alpha2-steps10000/m8`` (its own steps in the name)."""
    if long_steps:
        return f"gamma{gamma:+g}/alpha{LONG_ALPHA:g}-steps{long_steps}/m{m}"
    return f"gamma{gamma:+g}/m{m}"


GRID, FULL_GRID = 1, 2
"""``--scaling-grid``: 1 the reduced default grid, 2 the paper's."""


def configs(quick: bool, scaling_steps: int = STEPS, scaling_grid: int = GRID,
            scaling_long_steps: int = LONG_STEPS) -> dict[str, RunConfig]:
    """The default grid (with the long α = 2 strong runs; ``scaling_long_steps`` 0 leaves them out), the quick one or
    the paper's."""
    long_steps = scaling_long_steps
    if quick:
        n, widths, sweep, alphas, steps, batch = QUICK_N, QUICK_WIDTHS, QUICK_SWEEP, ALPHAS, scaling_steps, BATCH
        grid = {(g, m) for g in (STRONG, WEAK) for m in widths} | {(g, widths[1]) for g in sweep}
    elif scaling_grid == FULL_GRID:
        n, alphas, steps, batch = N_FEATURES, FULL_ALPHAS, 20_000, 2048
        grid = {(g, m) for g in FULL_SWEEP for m in FULL_WIDTHS}
    else:
        n, alphas, steps, batch = N_FEATURES, ALPHAS, scaling_steps, BATCH
        grid = {(g, m) for g in (STRONG, WEAK) for m in WIDTHS} | {(g, SWEEP_WIDTH) for g in SWEEP}
    out = {run_name(g, m): _config(n, m, alphas, g, quick, steps, batch) for g, m in sorted(grid)}
    if scaling_grid == GRID and not quick and long_steps and long_steps != steps:  # equal: one series already
        out.update({run_name(STRONG, m, long_steps): _config(n, m, (LONG_ALPHA,), STRONG, quick, long_steps, batch)
                    for m in WIDTHS})
    return out


EXPERIMENTS = [
    Experiment(
        name="scaling",
        title="Superposition and neural scaling: loss against width (Liu, Liu & Gore 2025)",
        section="Superposition and neural scaling", suite="beyond", order=23.0,
        summary=(f"n = {N_FEATURES} features with frequencies p_i ∝ i^−α (paper α = {', '.join(map(str, ALPHAS))}; "
                 f"one active feature per sample on average, values U(0, {VALUE_MAX:g})), ReLU output, widths m = "
                 f"{', '.join(map(str, WIDTHS))} at γ = {STRONG:g} (strong superposition) and {WEAK:g} (weak), and "
                 f"γ = {', '.join(f'{g:g}' for g in SWEEP)} at m = {SWEEP_WIDTH}; AdamW lr 1e-2 with γ on W, warm-up "
                 f"and cosine decay, {STEPS} steps of {BATCH}; the strong runs at α = {LONG_ALPHA:g} again for "
                 f"{LONG_STEPS} steps. Loss exponents α_m, φ½ and the mean squared overlap against the Welch bound, "
                 "over converged models."),
        configs=configs,
        snapshots=lambda run, config: [check_step(config.recipe.steps)],
        analyses=(analyze_scaling,),
        figures=(FigureSpec("scaling_loss", figures.loss_against_width),
                 FigureSpec("scaling_phi", figures.phi_against_gamma),
                 FigureSpec("scaling_overlap", figures.overlap_against_width)),
        claims=CLAIMS,
        notes=load_notes(__name__, "notes.md", steps=STEPS, batch=BATCH, long_steps=LONG_STEPS,
                         long_alpha=f"{LONG_ALPHA:g}", converged=CONVERGED, weak_phi=WEAK_PHI,
                         widths=", ".join(map(str, WIDTHS))),
        params=(Param("scaling_steps", STEPS, "scaling: training steps of every model (the paper: 20000)"),
                Param("scaling_long_steps", LONG_STEPS, f"scaling: steps of the strong alpha = {LONG_ALPHA:g} runs "
                                                         "that SCALE-3 reads (0: none)"),
                Param("scaling_grid", GRID, "scaling: 1 the reduced default grid, 2 the paper's (6 widths x 10 gammas "
                                            "x 9 alphas, 20000 steps of 2048; hours: use --executor ray)")),
    )
]
