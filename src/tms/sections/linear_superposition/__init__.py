"""A linear model in superposition? (BEYOND.md ALT; Roe & Goldstein 2025, "Alternative Models of Superposition").

The 100 → 2 linear model x' = WᵀW x + b on data 'alt' (one target feature per sample, U[0, 1]; every other feature
on with probability 0.95 and then noise · U[0, 1]), trained with the post's target-only loss (x'_t − x_t)² and,
as the control, with the paper's full reconstruction loss; then the target-only loss at other noise amplitudes.
ALT-1: many features keep a large norm in 2 dimensions under the target-only loss, none under the full loss.
ALT-2: but their directions are not spread evenly: the gaps between them are those of random angles, and the post's
own criterion for superposition fails. How the measures are computed: :mod:`.analysis`.
"""

from __future__ import annotations

from tms.config import Recipe, RunConfig
from tms.experiment import Experiment, FigureSpec, Param, load_notes
from . import figures
from .analysis import FULL_RUN, POST_TOLERANCE, RANDOM_DRAWS, TARGET_RUN, WIDE, analyze_alt
from .claims import CLAIMS, MIN_GAP_SHARE, RANDOM_BAND

N_FEATURES, N_HIDDEN = 100, 2
DENSITY = 0.95
"""Probability that a non-target feature is on (their ``SPARSITY``)."""
NOISE = 0.1
NOISE_LEVELS = (0.02, 0.05, 0.2, 0.5)
"""The other amplitudes of the non-target features, one model each (0.1 is the main runs')."""
QUICK_NOISE_LEVELS = (0.5,)
MODELS = 3
"""Models per loss in the main runs (ALT-1 and ALT-2 ask for three: their seeds 0-2)."""


def recipe(loss: str, quick: bool) -> Recipe:
    """Roe & Goldstein's recipe (train_linear.py at "okay was able to reproduce results"): Adam, lr 5e-2 with cosine
    decay to 0, 200 epochs × 50 batches of 128 = 10 000 steps, W and b from N(0, 1), no weight decay."""
    r = Recipe(steps=10_000, batch_size=128, lr=5e-2, weight_decay=0.0, optimizer="adam", init="normal",
               schedule="cosine", lr_floor=0.0, loss=loss, log_every=500)
    return r.quick() if quick else r


def _config(loss: str, noise: float, restarts: int, quick: bool, seed: int = 0) -> RunConfig:
    return RunConfig.uniform(N_FEATURES, N_HIDDEN, [DENSITY], model="linear", data="alt", noise=noise,
                             restarts=restarts, recipe=recipe(loss, quick), seed=seed)


def configs(quick: bool, alt_models: int = MODELS) -> dict[str, RunConfig]:
    models = 1 if quick else alt_models
    levels = QUICK_NOISE_LEVELS if quick else NOISE_LEVELS
    return {TARGET_RUN: _config("target-only", NOISE, models, quick),
            FULL_RUN: _config("weighted-mse", NOISE, models, quick),
            **{f"noise-{noise:g}": _config("target-only", noise, 1, quick, seed=1 + k) for k, noise in enumerate(levels)}}


EXPERIMENTS = [
    Experiment(
        name="linear-superposition",
        title="A linear model in superposition? 100 features in 2 dimensions (Roe & Goldstein 2025)",
        section="Alternative models of superposition", suite="beyond", order=23.2,
        summary=(f"n = {N_FEATURES}, m = {N_HIDDEN}, linear x' = WᵀW x + b, data 'alt' (one target per sample, "
                 f"the others on with probability {DENSITY} at amplitude {NOISE}); target-only loss against the "
                 f"paper's full loss, {MODELS} models each, Adam lr 5e-2 with cosine decay, 10 000 steps of 128; "
                 f"then the target-only loss at amplitudes {', '.join(f'{v:g}' for v in NOISE_LEVELS)}. Norms, "
                 f"Σ‖W_i‖², and the gaps between the directions against {RANDOM_DRAWS} draws of {N_FEATURES} "
                 "uniform random angles."),
        configs=configs,
        analyses=(analyze_alt,),
        figures=(FigureSpec("linear_superposition_directions", figures.directions),
                 FigureSpec("linear_superposition_gaps", figures.gaps),
                 FigureSpec("linear_superposition_noise", figures.noise)),
        claims=CLAIMS,
        notes=load_notes(__name__, "notes.md", models=MODELS, draws=RANDOM_DRAWS, wide=WIDE,
                         tolerance=POST_TOLERANCE, min_gap_share=MIN_GAP_SHARE,
                         band=f"{RANDOM_BAND[0]:g}-{RANDOM_BAND[1]:g}"),
        params=(Param("alt_models", MODELS, "linear-superposition: models per loss in the main runs"),),
    )
]
