"""§4 The geometry of superposition, uniform features (PAPER.md §4, experiment ``geometry``).

n = 400 features of equal importance in m = 30 dimensions, at densities from 1 to 0.001, several models per
density, the paper recipe. D* = m / ‖W‖_F² sticks at 1 and at ½ (S4-1); feature dimensionalities D_i cluster
at 3/4, 2/3, ½, 2/5, 3/8 (S4-2); the features split into tegum factors, each a polytope in a subspace of its
own, and Σ_i D_i ≈ m (S4-3). How groups and polytopes are found: :mod:`tms.geometry`.
"""

from __future__ import annotations

from functools import partial

from tms import geometry as polytopes
from .analysis import analyze_geometry
from tms.analysis.models import analyze_models
from .claims import CLAIMS
from tms.config import Recipe, RunConfig
from . import figures
from tms.experiment import Experiment, FigureSpec, Param, load_notes

N_FEATURES, N_HIDDEN = 400, 30
#: 1/(1 − S): 16 per decade from 1 to 10, then 2 per decade to 1000.
INVERSE_DENSITIES = tuple(10 ** (k / 16) for k in range(17)) + tuple(10 ** (1 + k / 2) for k in range(1, 5))
MODELS = 2
QUICK_INVERSE_DENSITIES = (1.0, 2.5, 4.0, 10.0, 100.0)


def configs(quick: bool, models: int = MODELS) -> dict[str, RunConfig]:
    inverse = QUICK_INVERSE_DENSITIES if quick else INVERSE_DENSITIES
    return {"": RunConfig.uniform(N_FEATURES, N_HIDDEN, [1.0 / x for x in inverse], 1.0, model="relu",
                                  restarts=1 if quick else models, recipe=Recipe().quick() if quick else Recipe())}


EXPERIMENTS = [
    Experiment(
        name="geometry",
        title="§4: uniform superposition, 400 features in 30 dimensions",
        section="§4", order=4.0,
        summary=(f"n = {N_FEATURES}, m = {N_HIDDEN}, ReLU output, I = 1, {len(INVERSE_DENSITIES)} densities with "
                 f"1/(1 − S) from 1 to 1000, {MODELS} models per density, paper recipe: D*, every feature's D_i, "
                 "and the tegum factors (interference groups) and their polytopes."),
        configs=configs,
        analyses=(analyze_models, analyze_geometry),
        figures=(FigureSpec("geometry_dims_per_feature", figures.dims_per_feature),
                 FigureSpec("geometry_dimensionality", figures.dimensionality_scatter),
                 FigureSpec("geometry_polytopes", partial(figures.polytopes, run=""))),
        claims=CLAIMS,
        notes=load_notes(__name__, "notes.md", models=MODELS,
                         threshold=polytopes.INTERFERENCE),
        params=(Param("models", MODELS, "§4 geometry: models trained per density"),),
    )
]
