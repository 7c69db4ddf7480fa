"""§2 Demonstrating superposition (PAPER.md §2): linear vs ReLU-output models across sparsity.

``section2``: n = 20 features, m = 5 dimensions, I_i = 0.7^i; ``section2-large``: n = 80, m = 20, I_i = 0.9^i
(claim S2-5). Both train the linear and the ReLU model at S ∈ {0, 0.7, 0.9, 0.97, 0.99, 0.997, 0.999}, with
several restarts per sparsity (PAPER.md §0, local minima); figures and claims use each sparsity's lowest-loss
restart, and a table records what every restart reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from tms.analysis.models import analyze_models
from .analysis import analyze_section2
from .claims import LARGE_CLAIMS, REPRESENTATION_RULE, SMALL_CLAIMS
from tms.config import Recipe, RunConfig
from tms.plotting import gram
from tms.experiment import Experiment, FigureSpec, load_notes

SPARSITIES = (0.0, 0.7, 0.9, 0.97, 0.99, 0.997, 0.999)
MODELS = ("linear", "relu")


@dataclass(frozen=True)
class Spec:
    """One §2-style experiment: model sizes, importance decay and restarts."""

    name: str
    title: str
    n: int
    m: int
    decay: float
    restarts: int
    """ReLU models per sparsity (they land in local minima)."""
    linear_restarts: int
    """Linear models per sparsity: its loss has no spurious minima (every restart reaches the same top-m
    projection, S2-1), so one or two suffice."""
    quick_restarts: int = 2

    def configs(self, quick: bool) -> dict[str, RunConfig]:
        def restarts(model: str) -> int:
            return self.quick_restarts if quick else self.restarts if model == "relu" else self.linear_restarts

        return {model: RunConfig.uniform(self.n, self.m, [1.0 - S for S in SPARSITIES], self.decay, model=model,
                                         restarts=restarts(model), recipe=Recipe().quick() if quick else Recipe())
                for model in MODELS}


SMALL = Spec("section2", "§2: superposition in 20 features → 5 dimensions, linear vs ReLU", 20, 5, 0.7, 10, 2)
LARGE = Spec("section2-large", "§2: the same at n = 80, m = 20 (I_i = 0.9^i)", 80, 20, 0.9, 2, 1)


def _experiment(spec: Spec, claims) -> Experiment:
    return Experiment(
        name=spec.name,
        title=spec.title,
        section="§2", order=2,
        summary=(
            f"n = {spec.n}, m = {spec.m}, I_i = {spec.decay:g}^i, S ∈ {{{', '.join(f'{S:g}' for S in SPARSITIES)}}}, "
            f"linear and ReLU output, paper recipe, {spec.restarts} restarts per sparsity for the ReLU model and "
            f"{spec.linear_restarts} for the linear one; the lowest-loss restart is shown."
        ),
        configs=spec.configs,
        analyses=(analyze_models, analyze_section2),
        figures=tuple(
            FigureSpec(f"{spec.name}_{model}", partial(
                gram.best_restarts, run=model,
                suptitle="{model} model, n = {n} features, m = {m} dimensions, I_i = {decay:g}^i: ‖W_i‖ bars "
                         "(colour: superposition), WᵀW and b (features in importance order, most important at the "
                         "top)"))
            for model in MODELS
        ),
        claims=claims,
        notes=load_notes(__name__, "notes.md", restarts=spec.restarts,
                         linear_restarts=spec.linear_restarts, rule=REPRESENTATION_RULE),
    )


EXPERIMENTS = [_experiment(SMALL, SMALL_CLAIMS), _experiment(LARGE, LARGE_CLAIMS)]
