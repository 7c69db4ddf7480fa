"""Introduction figure (PAPER.md "Introduction figure"): n = 5 features in m = 2 dimensions.

A ReLU-output model with I_i = 0.9^i is trained at ten densities, 20^−linspace(0, 1, 10) (S = 0 … 0.95), with
several restarts per density because models this small land in local minima (PAPER.md §0). Dense, it keeps
the two most important features orthogonally (INTRO-1); at S ≈ 0.8 the four most important form two antipodal
pairs (INTRO-2); from S ≈ 0.9 all five sit on a pentagon (INTRO-3). Figures and claims use each density's
lowest-loss restart, and the configuration every restart reached is tabulated.
"""

from __future__ import annotations

import math
from functools import partial

from . import analysis as geometry
from tms.analysis.models import analyze_models
from .claims import CLAIMS
from tms.config import Recipe, RunConfig
from tms.layout import REPRESENTED_NORM
from tms.plotting import counts, vectors
from tms.experiment import Experiment, FigureSpec, load_notes

N_FEATURES, N_HIDDEN, IMPORTANCE_DECAY = 5, 2, 0.9
DENSITIES = tuple(20.0 ** (-k / 9) for k in range(10))
RESTARTS, QUICK_RESTARTS = 20, 2


def configs(quick: bool) -> dict[str, RunConfig]:
    recipe = Recipe().quick() if quick else Recipe()
    return {"": RunConfig.uniform(N_FEATURES, N_HIDDEN, DENSITIES, IMPORTANCE_DECAY, model="relu",
                                  restarts=QUICK_RESTARTS if quick else RESTARTS, recipe=recipe)}


EXPERIMENTS = [
    Experiment(
        name="intro",
        title="Introduction: 5 features in 2 dimensions",
        section="Introduction", order=1,
        summary=(
            "n = 5, m = 2, ReLU output, I_i = 0.9^i, densities 20^−linspace(0, 1, 10), paper recipe, "
            f"{RESTARTS} restarts per density; the lowest-loss restart is shown and each restart's configuration "
            "is counted."
        ),
        configs=configs,
        analyses=(analyze_models, geometry.analyze_intro),
        figures=(
            FigureSpec("intro_vectors", partial(
                vectors.best_restarts, run="", label=(geometry.GEOMETRY, "configuration"),
                suptitle="n = {n} features in m = {m} dimensions (ReLU output, I_i = {decay:g}^i): each W_i as a "
                         "vector, lowest-loss restart per sparsity")),
            FigureSpec("intro_configurations", partial(
                counts.from_table, schema=geometry.CONFIGURATION_COUNTS, group="sparsity",
                columns={c: geometry.COLUMNS[c] for c in geometry.CONFIGURATIONS},
                title="Configuration reached by each of the {restarts} restarts per sparsity (represented: "
                      f"‖W_i‖ > {REPRESENTED_NORM}; angles within {geometry.ANGLE_TOL_DEG:g}°)",
                xlabel="sparsity S = 1 − p")),
        ),
        claims=CLAIMS,
        notes=load_notes(__name__, "notes.md", restarts=RESTARTS, settings=len(DENSITIES),
                         std=f"{math.sqrt(2 / (N_HIDDEN * (N_FEATURES + len(DENSITIES)))):.3f}"),
    )
]
