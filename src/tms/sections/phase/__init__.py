"""§3 Superposition as a phase change (PAPER.md §3): empirical phase diagrams against the theory.

``phase-2-1``: 2 features in 1 dimension; ``phase-3-2``: 3 features in 2 dimensions. The last feature is the
*extra* one, with relative importance r (the others have importance 1); every feature has density p. On a
log-spaced grid of r in [0.1, 10] and p in [0.01, 1], each grid point trains ``models`` models (the ReLU and
the linear model), and a density sweep at r = 0.5 trains the ReLU model on a finer grid for the kink of S3-3.
How the models are labelled and the points summarised: :mod:`tms.sections.phase.analysis`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from tms import theory
from tms.analysis.models import analyze_models
from .analysis import GRID_RUNS, SWEEP_RUN, analyze_phase
from .claims import claims as make_claims
from tms.config import Recipe, RunConfig
from . import figures as phase_plots
from tms.experiment import Experiment, FigureSpec, Param, load_notes

R_RANGE = (0.1, 10.0)
"""Relative importance of the extra feature, log-spaced (PAPER.md §3)."""
P_RANGE = (0.01, 1.0)
"""Density of every feature, log-spaced (PAPER.md §3)."""
GRID = 20
"""Default grid points per axis (parameter ``grid``, ``tms reproduce --grid``)."""
MODELS = 10
"""Default models trained per grid point (parameter ``models``, ``--models``); the highest-loss one is dropped."""
SWEEP_R = 0.5
"""Fixed r of the density sweep behind S3-3: the extra feature goes from superposition to not represented
at p = 4r / (2 + 5r) = 0.44 (paper candidates, both problems)."""
SWEEP_P = (0.1, 1.0)
SWEEP_POINTS = 41
SWEEP_SEED_OFFSET = 1
"""The sweep's seed is the grid's plus this, so that the two do not share random draws (kept under --seed)."""

RECIPE = Recipe(steps=3000, batch_size=256, lr=0.07, init="per_model", log_every=100, eval_batches=32)
"""The §3 recipe (the companion notebook has none): AdamW as in §0 but lr 0.07, batch 256, 3000 steps and the
per-model init. Why: see the notes (phase.md). 32 evaluation batches (8192 samples) so that the loss that picks
the dropped model sees a few co-active pairs even at p = 0.01."""
PAPER_RECIPE = Recipe()
"""The §0 paper recipe, for comparison (``Overrides(recipe=...)``, ``tms robustness --variant``)."""
SWEEP_EVAL_BATCHES = 256
"""The sweep's losses feed a slope estimate (S3-3), so they are evaluated on 256 batches, not 32."""
QUICK_GRID, QUICK_MODELS, QUICK_SWEEP_POINTS = 5, 3, 9


@dataclass(frozen=True)
class Spec:
    """One §3 problem: n features in m dimensions, the extra feature last."""

    name: str
    title: str
    n: int
    m: int
    s3_2_threshold: float

    def configs(self, quick: bool, grid: int = GRID, models: int = MODELS) -> dict[str, RunConfig]:
        recipe = RECIPE.quick() if quick else RECIPE
        if quick:
            grid, models = QUICK_GRID, QUICK_MODELS
        rs = np.logspace(math.log10(R_RANGE[0]), math.log10(R_RANGE[1]), grid)
        ps = np.logspace(math.log10(P_RANGE[0]), math.log10(P_RANGE[1]), grid)
        points = [(float(r), float(p)) for r in rs for p in ps]  # r-major: setting = i_r * grid + i_p
        out = {model: RunConfig(n_features=self.n, n_hidden=self.m, density=[[p] * self.n for _, p in points],
                                importance=[list(theory.importance(self.n, r)) for r, _ in points], model=model,
                                restarts=models, recipe=recipe)
               for model in GRID_RUNS}
        sweep = np.logspace(math.log10(SWEEP_P[0]), math.log10(SWEEP_P[1]), QUICK_SWEEP_POINTS if quick else SWEEP_POINTS)
        out[SWEEP_RUN] = RunConfig(
            n_features=self.n, n_hidden=self.m, density=[[float(p)] * self.n for p in sweep],
            importance=[list(theory.importance(self.n, SWEEP_R)) for _ in sweep], model="relu", restarts=models,
            recipe=replace(recipe, eval_batches=recipe.eval_batches if quick else SWEEP_EVAL_BATCHES),
            seed=SWEEP_SEED_OFFSET,
        )
        return out


SPECS = (
    Spec("phase-2-1", "§3: phase diagram, 2 features in 1 dimension (theory vs training)", 2, 1, 0.95),
    Spec("phase-3-2", "§3: phase diagram, 3 features in 2 dimensions (theory vs training)", 3, 2, 0.90),
)

EXPERIMENTS = [
    Experiment(
        name=spec.name, title=spec.title, section="§3", order=3,
        summary=(f"{spec.n} features in {spec.m} dimension{'s' if spec.m > 1 else ''}; extra feature's relative "
                 f"importance r in [{R_RANGE[0]:g}, {R_RANGE[1]:g}] and density p in [{P_RANGE[0]:g}, "
                 f"{P_RANGE[1]:g}] (log grids, {GRID} x {GRID} by default), {MODELS} models per point, highest-loss "
                 "dropped, majority label of the rest; ReLU and linear models; theory from the closed-form "
                 f"losses of the candidates; a density sweep at r = {SWEEP_R:g} for the kink (S3-3)."),
        configs=spec.configs,
        analyses=(analyze_models, analyze_phase),
        figures=(FigureSpec("phase_relu", lambda exp: phase_plots.diagram(exp, "relu")),
                 FigureSpec("phase_linear", lambda exp: phase_plots.diagram(exp, "linear")),
                 FigureSpec("loss_sweep", phase_plots.loss_sweep)),
        claims=make_claims(spec.s3_2_threshold, SWEEP_R),
        notes=load_notes(__name__, "notes.md"),
        params=(Param("grid", GRID, "§3 phase diagrams: points per axis"),
                Param("models", MODELS, "§3 phase diagrams: models trained per point")),
    )
    for spec in SPECS
]
