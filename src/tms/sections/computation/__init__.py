"""§8 Computation in superposition (PAPER.md §8, experiment ``computation``).

The untied model h = ReLU(W₁ x), y' = ReLU(W₂ h + b) trained to compute |x| of signed inputs (0 with probability S,
else U[−1, 1]). With as many neurons as it needs (n = 3, m = 6) each feature gets a ReLU(x) + ReLU(−x) pair
(S8-1); with n = 100, m = 40, I_i = 0.8^i, neurons go from monosemantic to highly polysemantic as features get
sparser (S8-2), the most important features keep their own neurons longest and many neurons have a primary feature
(S8-3), and some neurons store two features asymmetrically with an inhibitory partner (S8-4).
"""

from __future__ import annotations

from .analysis import CARRY, PAIRS_RUN, SWEEP_RUN, analyze_computation
from .claims import CLAIMS
from tms.config import Recipe, RunConfig
from . import figures
from tms.experiment import Experiment, FigureSpec, Param, load_notes

SWEEP_DENSITIES = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)
"""The paper's seven densities for the 100 → 40 sweep."""
PAIRS_RESTARTS = 8
"""n = 3, m = 6 models trained (dense inputs); the lowest-loss one is read."""
SWEEP_RESTARTS = 1
RECIPE = Recipe(eval_batches=64)
"""The paper recipe, each model's final loss on 64 batches."""


def configs(quick: bool, restarts: int = SWEEP_RESTARTS) -> dict[str, RunConfig]:
    recipe = RECIPE.quick() if quick else RECIPE
    common = dict(model="untied-abs", data="signed", recipe=recipe)
    return {
        PAIRS_RUN: RunConfig.uniform(3, 6, (1.0,), 1.0, restarts=2 if quick else PAIRS_RESTARTS, **common),
        SWEEP_RUN: RunConfig.uniform(100, 40, SWEEP_DENSITIES, 0.8, restarts=restarts, **common),
    }


EXPERIMENTS = [
    Experiment(
        name="computation",
        title="§8: computation in superposition",
        section="§8", order=8,
        summary=("Untied model h = ReLU(W₁ x), y' = ReLU(W₂ h + b) computing |x| of inputs 0 or U[−1, 1], paper "
                 f"recipe: n = 3, m = 6 (dense, {PAIRS_RESTARTS} restarts, the lowest-loss one read) and n = 100, "
                 f"m = 40, I_i = 0.8^i at 1 − S ∈ {{{', '.join(f'{p:g}' for p in SWEEP_DENSITIES)}}}; neurons read "
                 f"with each one rescaled so its largest |W₁| weight is 1 (a feature counts when ≥ {CARRY:g})."),
        configs=configs,
        analyses=(analyze_computation,),
        figures=(FigureSpec("computation_pairs", figures.pairs),
                 FigureSpec("computation_neurons", figures.sweep_neurons),
                 FigureSpec("computation_polysemantic", figures.polysemantic_share),
                 FigureSpec("computation_motif", figures.motif)),
        claims=CLAIMS,
        notes=load_notes(__name__, "notes.md", carry=CARRY),
        params=(Param("restarts", SWEEP_RESTARTS, "§8 computation: restarts per density of the 100 -> 40 sweep"),),
    )
]
