"""§4 Non-uniform superposition (PAPER.md §4, experiment ``nonuniform``).

n = 5 features of equal importance in m = 2 dimensions, four at density 0.05 and the fifth at a relative density
r from 0.1 to 5, many fits per r. A denser fifth feature pushes the others away, a sparser one lets them crowd
towards it; about 2.5x sparser than the rest the pentagon snaps to two digons with the fifth feature dropped
(S4-4); the snap is first order, the two geometries' loss curves crossing there (S4-5); pentagon points sit
off the unit circle with a negative bias; measured, ‖W_i‖² = 1 − b_i (S4-6; the spec writes
‖W_i‖ ≈ 1/(1 − b_i), see the notes). The exact expected loss (:mod:`tms.exact`) puts the loss-optimal crossing at
r* = 0.269, and the trained snap there (S4-12).
"""

from __future__ import annotations

from .analysis import BASE_DENSITY, analyze_nonuniform
from .optimal import analyze_exact
from .claims import CLAIMS
from tms.config import Recipe, RunConfig
from . import figures
from tms.experiment import Experiment, FigureSpec, Param, load_notes

LOW, HIGH, POINTS, FITS = 0.1, 5.0, 27, 20
QUICK_POINTS, QUICK_FITS = 5, 3
RECIPE = Recipe(steps=30_000, eval_batches=64)
"""The paper recipe trained 3x longer, evaluated on 64 batches: where the geometry snaps, the two geometries' losses
differ by a few per cent, which 10 000 steps (not converged) and 8 evaluation batches (noise) blur (notes)."""


def configs(quick: bool, fits: int = FITS) -> dict[str, RunConfig]:
    k = QUICK_POINTS if quick else POINTS
    ratios = [LOW * (HIGH / LOW) ** (j / (k - 1)) for j in range(k)]
    return {"": RunConfig(n_features=5, n_hidden=2, density=[[BASE_DENSITY] * 4 + [BASE_DENSITY * r] for r in ratios],
                          importance=[[1.0] * 5 for _ in ratios], model="relu", restarts=QUICK_FITS if quick else fits,
                          recipe=RECIPE.quick() if quick else RECIPE)}


EXPERIMENTS = [
    Experiment(
        name="nonuniform",
        title="§4: non-uniform superposition, the pentagon that snaps to digons",
        section="§4", order=4.1,
        summary=(f"n = 5, m = 2, ReLU output, I = 1, features 0-3 at density {BASE_DENSITY:g}, the fifth at "
                 f"{LOW:g}-{HIGH:g}x that ({POINTS} log-spaced points), {FITS} fits per point, paper recipe trained "
                 "for 30 000 steps; each fit labelled pentagon, two digons (fifth dropped) or other."),
        configs=configs,
        analyses=(analyze_nonuniform, analyze_exact),
        figures=(FigureSpec("nonuniform_embeddings", figures.embeddings),
                 FigureSpec("nonuniform_losses", figures.losses)),
        claims=CLAIMS,
        notes=load_notes(__name__, "notes.md", low=LOW, high=HIGH, points=POINTS, fits=FITS),
        params=(Param("fits", FITS, "§4 nonuniform: fits per relative density of the fifth feature"),),
    )
]
