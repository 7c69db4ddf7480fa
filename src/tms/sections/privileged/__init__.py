"""§7 Superposition in a privileged basis (PAPER.md §7, experiment ``privileged``).

The hidden-ReLU model h = ReLU(W x), x' = ReLU(Wᵀ h + b), n = 10, m = 5, I_i = 0.75^i, over densities that cover
the paper's regimes, many restarts per density, the lowest-loss one kept. Dense, every neuron is monosemantic
(S7-1); as density falls the models pass through the paper's regimes, more features in more polysemantic neurons
(S7-2); in between, monosemantic and polysemantic neurons sit side by side (S7-3).
"""

from __future__ import annotations

from tms.analysis.models import analyze_models
from .analysis import analyze_privileged
from .claims import CLAIMS
from tms.config import Recipe, RunConfig
from . import figures
from tms.experiment import Experiment, FigureSpec, Param, load_notes

DENSITIES = (1.0, 0.7, 0.5, 0.35, 0.25, 0.2, 0.15, 0.14, 0.13, 0.12, 0.11, 0.1, 0.08, 0.065, 0.05, 0.04, 0.03, 0.02,
             0.015, 0.01)
"""The paper's regimes sit at 0.2-0.5, ~0.15, ~0.12, 0.05-0.08 and ≤ 0.04: every 0.01 between 0.15 and 0.1, where
three of them follow each other."""
QUICK_DENSITIES = (1.0, 0.35, 0.15, 0.065, 0.02)
RESTARTS = 32
RECIPE = Recipe(eval_batches=64)
"""The paper recipe, each model's final loss on 64 batches (the restarts of one density differ by a few per cent)."""


def configs(quick: bool, restarts: int = RESTARTS) -> dict[str, RunConfig]:
    return {"": RunConfig.uniform(10, 5, QUICK_DENSITIES if quick else DENSITIES, 0.75, model="hidden-relu",
                                  restarts=2 if quick else restarts, recipe=RECIPE.quick() if quick else RECIPE)}


EXPERIMENTS = [
    Experiment(
        name="privileged",
        title="§7: superposition in a privileged basis",
        section="§7", order=7,
        summary=(f"Hidden-ReLU model h = ReLU(W x), x' = ReLU(Wᵀ h + b), n = 10, m = 5, I_i = 0.75^i, "
                 f"{len(DENSITIES)} densities from 1 to 0.01, {RESTARTS} restarts per density (the paper kept the "
                 "best of 1000), paper recipe; lowest-loss restart shown, neurons read weight by weight."),
        configs=configs,
        analyses=(analyze_models, analyze_privileged),
        figures=(FigureSpec("privileged_neurons", figures.privileged),),
        claims=CLAIMS,
        notes=load_notes(__name__, "notes.md", restarts=RESTARTS),
        params=(Param("restarts", RESTARTS, "§7 privileged: restarts per density"),),
    )
]
