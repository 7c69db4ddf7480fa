"""SAE-4: Sharkey, Braun & Millidge (2022)'s sparse-dictionary setting (BEYOND.md SAE-4).

512 random unit directions in 256 dimensions, about 5 active per sample with frequencies decaying as 0.99^i and
correlated through a Gaussian copula, magnitudes U(0, 1); untied ReLU + L1 SAEs of 256, 512 and 1024 latents × four
L1 coefficients, all trained at once on one activation stream. A dictionary at or above the true count recovers
the directions, half the count cannot, too large a λ kills the code, and the larger dictionary's surplus latents
die. Trains no toy model: the SAEs train in the analysis, into an SAE folder inside the experiment folder.
"""

from __future__ import annotations

from . import analysis as A
from . import figures
from .claims import CLAIMS
from tms.experiment import Experiment, FigureSpec, Param, load_notes


def configs(quick: bool, sharkey_steps: int = A.STEPS, sharkey_batch: int = A.BATCH) -> dict:
    """No toy model: the SAEs train in :func:`~tms.sections.sae_sharkey.analysis.analyze_sharkey`."""
    return {}


def _list(xs) -> str:
    return "/".join(f"{x:g}" for x in xs)


EXPERIMENTS = [
    Experiment(
        name="sae-sharkey",
        title="SAE-4: Sharkey et al.'s setting, dictionary size × L1 coefficient",
        section="SAE", suite="beyond", order=25.4,
        summary=(f"{A.N_TRUE} random unit directions in {A.D_IN} dimensions, about {A.MEAN_ACTIVE:g} active per "
                 f"sample (frequencies ∝ 0.99^i, Gaussian-copula correlations, magnitudes U(0, 1)); untied ReLU + L1 "
                 f"SAEs of {_list(A.SIZES)} latents × λ {_list(A.LAMBDAS)}, trained at once on one stream (Adam lr "
                 f"{A.LR:g}, batch {A.BATCH}, {A.STEPS} steps); MMCS, dead latents and the missed features."),
        configs=configs,
        analyses=(A.analyze_sharkey,),
        figures=(FigureSpec("sharkey_mmcs", figures.mmcs), FigureSpec("sharkey_dead", figures.dead),
                 FigureSpec("sharkey_features", figures.features)),
        claims=CLAIMS,
        notes=load_notes(__name__, "notes.md", n_true=A.N_TRUE, d_in=A.D_IN, source_seed=A.SOURCE_SEED,
                         mean_active=f"{A.MEAN_ACTIVE:g}", saes=len(A.SIZES) * len(A.LAMBDAS), sizes=_list(A.SIZES),
                         lambdas=_list(A.LAMBDAS), lr=f"{A.LR:g}", batch=A.BATCH, steps=A.STEPS,
                         sizes_first=A.SIZES[0], eval_samples=A.EVAL_BATCHES * A.EVAL_BATCH,
                         quick_true=A.QUICK_TRUE, quick_d=A.QUICK_D, quick_sizes=_list(A.QUICK_SIZES),
                         quick_steps=A.QUICK_STEPS),
        params=(Param("sharkey_steps", A.STEPS, "SAE-4 sharkey: training steps"),
                Param("sharkey_batch", A.BATCH, "SAE-4 sharkey: batch size")),
    )
]
