"""§5 Learning dynamics (PAPER.md §5, experiment ``dynamics``), from training snapshots.

Uniform superposition at n = 400, m = 30 and a density where the represented features end as digons: every
feature's D_i over training, the loss curve below it. Dimensionalities jump from the level of unlearned features
to ½ (S5-1) while the loss drops (S5-2). Two sets of three correlated features in m = 3: a PCA-like solution
first, then an octahedron whose antipodal pairs join the two sets (S5-3).
"""

from __future__ import annotations

from functools import partial

from .analysis import analyze_regimes, analyze_uniform
from tms.analysis.models import analyze_models
from .claims import CLAIMS, SETS, UNIFORM
from tms.config import Recipe, RunConfig
from . import figures
from tms.experiment import Experiment, FigureSpec, load_notes

DENSITY = 0.35
"""1/(1 − S) ≈ 2.9: the middle of the D* = ½ plateau of the geometry experiment (every represented feature in a
digon)."""
SETS_DENSITY = 0.05
EVERY = {UNIFORM: 50, SETS: 25}
"""Snapshot every this many steps (linear: the jumps happen between steps 1000 and 4000)."""


def configs(quick: bool) -> dict[str, RunConfig]:
    recipe = Recipe().quick() if quick else Recipe()
    return {
        UNIFORM: RunConfig.uniform(400, 30, [DENSITY], 1.0, restarts=1 if quick else 2, recipe=recipe),
        SETS: RunConfig(n_features=6, n_hidden=3, density=[[SETS_DENSITY] * 6], importance=[[1.0] * 6], data="sets",
                        feature_sets=["correlated:0,1,2", "correlated:3,4,5"], restarts=2 if quick else 4,
                        recipe=recipe),
    }


def snapshots(run: str, config: RunConfig) -> list[int]:
    every = max(1, EVERY[run] * config.recipe.steps // 10_000)
    return list(range(0, config.recipe.steps + 1, every)) + (
        [config.recipe.steps] if config.recipe.steps % every else [])


EXPERIMENTS = [
    Experiment(
        name="dynamics",
        title="§5: learning dynamics",
        section="§5", order=5,
        summary=(f"n = 400, m = 30, I = 1 at density {DENSITY:g} with W and b saved every {EVERY[UNIFORM]} steps "
                 f"(2 models); n = 6, m = 3, two correlated sets of three at density {SETS_DENSITY:g}, saved every "
                 f"{EVERY[SETS]} steps (4 models); paper recipe."),
        configs=configs,
        analyses=(analyze_models, partial(analyze_uniform, run=UNIFORM), partial(analyze_regimes, run=SETS)),
        figures=(FigureSpec("dynamics_dimensionality", partial(figures.dimensionality, run=UNIFORM)),
                 FigureSpec("dynamics_octahedron", partial(figures.regimes, run=SETS))),
        claims=CLAIMS,
        notes=load_notes(__name__, "notes.md", density=DENSITY),
        snapshots=snapshots,
    )
]
