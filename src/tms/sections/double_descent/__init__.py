"""Superposition, memorization and double descent (BEYOND.md DD; Henighan et al. 2023).

The ReLU-output toy model (n = 1000 features, m = 2, S = 0.99) trained full batch on finite sets of T unit-length
examples, one run per T, with the test loss on fresh draws. DD-1: at small T the hidden vectors of the training
points form a regular polygon (high data-point dimensionality, low feature dimensionality); DD-2: at large T the
features do; DD-3: the test loss peaks in between, where both dimensionalities are low. How the measures are
computed: :mod:`.analysis`.
"""

from __future__ import annotations

from tms.config import Recipe, RunConfig
from tms.experiment import Experiment, FigureSpec, Param, load_notes
from . import figures
from .analysis import LARGE, POLYGON_TOL, TEST_SAMPLES, analyze_dd
from .claims import CLAIMS, LARGE_T, PEAK_RATIO, SMALL_T

N_FEATURES, N_HIDDEN, DENSITY = 1000, 2, 0.01
SIZES = (3, 5, 8, 10, 30, 100, 200, 300, 500, 1000)
"""The default grid of training-set sizes T (ARENA's without 6, 15, 50 and 2000, with 8 and 300)."""
ARENA_SIZES = (3, 5, 6, 8, 10, 15, 30, 50, 100, 200, 300, 500, 1000, 2000)
QUICK_SIZES = (3, 30, 100)
MODELS = 3
STEPS, WARMUP, LR = 2_500, 250, 1e-2
"""Our recipe: 2 500 full-batch AdamW steps at lr 1e-2 (250 of linear warm-up, then cosine to 0), weight decay
1e-2. ARENA's (``--dd_recipe 2``): 50 000 steps, 2 500 of warm-up, lr 1e-3, 5 models, T up to 2 000."""


def recipe(T: int, quick: bool, arena: bool) -> Recipe:
    steps, warmup, lr = (50_000, 2_500, 1e-3) if arena else (300, 30, LR) if quick else (STEPS, WARMUP, LR)
    return Recipe(steps=steps, batch_size=T, lr=lr, weight_decay=1e-2, schedule="cosine", warmup_steps=warmup,
                  lr_floor=0.0, log_every=max(1, steps // 10), eval_batches=2)


def configs(quick: bool, dd_models: int = MODELS, dd_recipe: int = 1) -> dict[str, RunConfig]:
    arena = dd_recipe == 2 and not quick
    sizes = QUICK_SIZES if quick else ARENA_SIZES if arena else SIZES
    models = 1 if quick else (5 if arena else dd_models)
    return {f"T{T:05d}": RunConfig.uniform(N_FEATURES, N_HIDDEN, [DENSITY], model="relu", train_size=T,
                                           normalize=True, restarts=models, recipe=recipe(T, quick, arena))
            for T in sizes}


EXPERIMENTS = [
    Experiment(
        name="double-descent",
        title="Superposition, memorization and double descent (Henighan et al. 2023)",
        section="Double descent", suite="beyond", order=23.1,
        summary=(f"ReLU output, n = {N_FEATURES}, m = {N_HIDDEN}, S = {1 - DENSITY:g}; finite training sets of T "
                 f"unit-length examples (T = {', '.join(map(str, SIZES))}), {MODELS} models each, full batch, "
                 f"{STEPS} AdamW steps at lr {LR:g} (warm-up {WARMUP}, cosine), weight decay 1e-2; test loss on "
                 "fresh draws; data-point dimensionality of the training points against feature dimensionality."),
        configs=configs,
        analyses=(analyze_dd,),
        figures=(FigureSpec("double_descent_loss", figures.losses),
                 FigureSpec("double_descent_dimensionality", figures.dimensionality),
                 FigureSpec("double_descent_vectors", figures.vectors)),
        claims=CLAIMS,
        notes=load_notes(__name__, "notes.md", models=MODELS, steps=STEPS, warmup=WARMUP, lr=LR,
                         small=", ".join(map(str, SMALL_T)), large=LARGE_T, peak_ratio=PEAK_RATIO, large_share=LARGE,
                         tol=POLYGON_TOL, test_samples=TEST_SAMPLES),
        params=(Param("dd_models", MODELS, "double-descent: models per training-set size"),
                Param("dd_recipe", 1, "double-descent: 1 = ours (2 500 steps at lr 1e-2, 10 sizes), 2 = ARENA's "
                                      "(50 000 steps at lr 1e-3, 14 sizes to T = 2000, 5 models; hours on a CPU)")),
    )
]
