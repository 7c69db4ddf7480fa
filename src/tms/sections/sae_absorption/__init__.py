"""SAE-5: feature absorption in a toy hierarchy (BEYOND.md SAE-5; Chanin et al. 2024, "A is for Absorption").

Four orthonormal features in 50 dimensions, a child that fires only with its parent; 4-latent ReLU + L1 SAEs,
tied and untied, several λ and seeds, against a control whose child is independent. Untied SAEs absorb the parent
into the child's latent in every run; tied SAEs never do so strictly (whether they recover the parent is reported
apart); the five SAE families on the hierarchy are ranked by MCC. Trains no toy model: the SAEs train in the
analysis, into SAE folders inside the experiment folder.
"""

from __future__ import annotations

from . import analysis as A
from . import figures
from .claims import CLAIMS
from tms.experiment import Experiment, FigureSpec, Param, load_notes


def configs(quick: bool, absorption_seeds: int = A.SEEDS) -> dict:
    """No toy model: the SAEs train in :func:`~tms.sections.sae_absorption.analysis.analyze_absorption`."""
    return {}


EXPERIMENTS = [
    Experiment(
        name="sae-absorption",
        title="SAE-5: feature absorption in a toy hierarchy, untied against tied",
        section="SAE", suite="beyond", order=25.5,
        summary=(f"Four orthonormal features in {A.D_IN} dimensions at magnitude 1; the child fires only with its "
                 f"parent (q = {A.Q_CHILD:g}) or, in the control, independently. 4-latent ReLU + L1 SAEs, tied and "
                 f"untied, λ ∈ {{{', '.join(f'{x:g}' for x in A.LAMBDAS)}}} × {A.SEEDS} seeds, {A.STEPS} steps; "
                 "the absorption rate of each, and the five families ranked by MCC on the hierarchy."),
        configs=configs,
        analyses=(A.analyze_absorption,),
        figures=(FigureSpec("absorption_runs", figures.runs), FigureSpec("absorption_decoders", figures.decoders),
                 FigureSpec("absorption_families", figures.families)),
        claims=CLAIMS,
        notes=load_notes(__name__, "notes.md", d_in=A.D_IN, p_parent=f"{A.P_PARENT:g}", q=f"{A.Q_CHILD:g}",
                         p_other=f"{A.P_OTHER:g}", pq=f"{A.P_PARENT * A.Q_CHILD:g}",
                         lambdas=", ".join(f"{x:g}" for x in A.LAMBDAS), seeds=A.SEEDS, lr=f"{A.LR:g}",
                         batch=A.BATCH, steps=A.STEPS, eval_samples=A.EVAL_SAMPLES, aligned=f"{A.ALIGNED:g}",
                         clean=f"{A.CLEAN:g}", quick_steps=A.QUICK_STEPS),
        params=(Param("absorption_seeds", A.SEEDS, "SAE-5 absorption: seeds per λ, tying and setting"),),
    )
]
