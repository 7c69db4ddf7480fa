"""The local learning coefficient of toy models (BEYOND.md LLC; Chen, Lau, Mendel, Wei & Murfet 2023).

c = 6 features in m = 2 dimensions in the high-sparsity limit (x = μ e_i): the k-gon critical points, their
exact losses (LLC-1), their LLC by our SGLD (:mod:`tms.llc`) against theory (LLC-3) and against devinterp 1.3.2
at the same hyper-parameters (LLC-4), a regular model's (LLC-2), and the estimate's dependence on the
localization and the chain length. No toy model is trained for the claims: the k-gons are built from their
closed forms; one c = 6 model trained by the package's trainer shows ``tms llc`` on a run.
"""

from __future__ import annotations

from tms.experiment import Experiment, FigureSpec, load_notes
from . import bayes, dynamics, figures
from .analysis import (GAMMAS, LENGTHS, MAIN, MATCHED, TRAINED, analyze_estimates, analyze_regular,
                       analyze_sensitivity, analyze_trained, trained_config)
from .claims import CLAIMS
from .kgons import LLC_1, analyze_kgons


def configs(quick: bool) -> dict:
    return {TRAINED: trained_config(quick)}


EXPERIMENTS = [
    Experiment(
        name="llc",
        title="LLC: the local learning coefficient of the k-gons (Chen et al. 2023)",
        section="LLC", order=40.0, suite="beyond",
        summary=("c = 6, m = 2, x = μ e_i: the k-gon critical points' LLC by SGLD (ε = 1e-3, γ = 1, nβ = n/ln n, "
                 f"n = 1000, full batch; {MAIN.chains} chains × {MAIN.draws} draws), against theory and devinterp "
                 f"1.3.2 ({MATCHED.chains} × {MATCHED.draws} each); linear regression d = 10; the estimate against "
                 f"γ ∈ {GAMMAS} and chain lengths {LENGTHS}."),
        configs=configs,
        analyses=(analyze_kgons, analyze_estimates, analyze_sensitivity, analyze_regular, analyze_trained),
        figures=(FigureSpec("llc_traces", figures.traces), FigureSpec("llc_kgons", figures.kgon_table),
                 FigureSpec("llc_sensitivity", figures.sensitivity)),
        claims=(LLC_1, *CLAIMS),
        notes=load_notes(__name__, "notes.md"),
    )
]

EXPERIMENTS.append(
    Experiment(
        name="bayes",
        title="LLC: the Bayesian phase transition from the 5-gon to the 6-gon (Chen et al. 2023)",
        section="LLC", order=41.0, suite="beyond", uses=("llc",),
        summary=("The local free energy n L(w*) + λ ln n of the 5-gon and 6-gon phases against the sample size n, "
                 "with the exact losses and the theoretical λ or our SGLD estimates (the llc experiment's table)."),
        configs=lambda quick: {},
        analyses=(bayes.analyze_bayes,),
        figures=(FigureSpec("bayes_free_energy", bayes.figure),),
        claims=bayes.CLAIMS,
        notes=load_notes(__name__, "notes_bayes.md"),
    ))

EXPERIMENTS.append(
    Experiment(
        name="llc-dynamics",
        title="LLC: dynamical transitions along SGD (Chen et al. 2023)",
        section="LLC", order=42.0, suite="beyond", uses=("llc",),
        summary=(f"SGD on n = 1 000 fixed samples (batch {dynamics.RECIPE.batch}, lr {dynamics.RECIPE.lr}), "
                 f"{dynamics.RECIPE.seeds} seeds × {dynamics.RECIPE.epochs} epochs (the paper: 4 500), a snapshot "
                 f"at {dynamics.RECIPE.snapshots} log-spaced epochs with its loss, k-gon and LLC."),
        configs=lambda quick: {},
        analyses=(dynamics.analyze_dynamics,),
        figures=(FigureSpec("llc_dynamics", dynamics.figure),),
        claims=dynamics.CLAIMS,
        notes=load_notes(__name__, "notes_dynamics.md"),
    ))
