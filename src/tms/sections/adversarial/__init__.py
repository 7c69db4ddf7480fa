"""§6 Superposition and adversarial vulnerability (PAPER.md §6, experiment ``adversarial``).

The analytic attack (:mod:`tms.attack`) on the models of the uniform geometry experiment (n = 400, m = 30, every
density): no training of its own. Vulnerability rises more than threefold as superposition forms (S6-1) and
rises with features per dimension 1/D* (S6-2).
"""

from __future__ import annotations

from .analysis import SAMPLES, analyze_adversarial
from tms.attack import SCALE
from .claims import CLAIMS
from . import figures
from tms.experiment import Experiment, FigureSpec, load_notes

EXPERIMENTS = [
    Experiment(
        name="adversarial",
        title="§6: superposition and adversarial vulnerability",
        section="§6", order=6,
        summary=(f"The worst per-feature analytic attack (norm {SCALE:g} × the mean input norm) on every model of the "
                 f"§4 geometry experiment, {SAMPLES} inputs per model; vulnerability relative to a model without "
                 "superposition, against features per dimension."),
        configs=lambda quick: {},
        analyses=(analyze_adversarial,),
        figures=(FigureSpec("adversarial_vulnerability", figures.vulnerability),),
        claims=CLAIMS,
        notes=load_notes(__name__, "notes.md"),
        uses=("geometry",),
    )
]
