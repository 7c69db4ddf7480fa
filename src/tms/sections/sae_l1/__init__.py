"""SAE-3: ReLU + L1 against TopK, BatchTopK and JumpReLU on a trained model (BEYOND.md SAE).

On sae-recovery's 400 → 30 model at p = 0.01 (true L0 ≈ 4): L1 over a λ sweep recovers worse than the families
that set L0 directly; started at the true dictionary, L1 drifts away from it; and L1 shrinks the reconstruction
(Σ‖ĥ‖ / Σ‖h‖ well below 1) where TopK and JumpReLU shrink much less.
"""

from __future__ import annotations

from . import analysis as A
from . import figures
from .claims import CLAIMS
from tms.experiment import Experiment, FigureSpec, load_notes


def _list(xs) -> str:
    return ", ".join(f"{x:g}" for x in xs)


EXPERIMENTS = [
    Experiment(
        name="sae-l1",
        title="SAE-3: ReLU + L1 against the families that set L0, on a trained model",
        section="SAE", suite="beyond", order=25.3,
        summary=(f"On sae-recovery's 400 → 30 model at p = 0.01: ReLU + L1 SAEs at λ {_list(A.L1_SWEEP)}, TopK and "
                 f"BatchTopK at the true L0, JumpReLU at λ {_list(A.JUMP_SWEEP)}, and ReLU + L1, TopK and JumpReLU "
                 f"started at the true dictionary; {A.D_SAE} latents, {A.STEPS} steps at batch {A.BATCH}, all at "
                 "once on one stream; recovery, L0 and shrinkage Σ‖ĥ‖ / Σ‖h‖ on fresh samples."),
        configs=lambda quick: {},
        analyses=(A.analyze_l1,),
        figures=(FigureSpec("sae_l1_sweep", figures.penalty_sweep), FigureSpec("sae_l1_shrinkage", figures.shrinkage)),
        claims=CLAIMS,
        notes=load_notes(__name__, "notes.md", steps=A.STEPS, batch=A.BATCH, truth_l1=f"{A.TRUTH_L1:g}"),
        uses=("sae-recovery",),
    )
]
