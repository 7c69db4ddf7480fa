"""SAE-1 and SAE-2: sparse autoencoders recovering the features of trained toy models (BEYOND.md SAE).

Toy models of n features in m = 30 dimensions (the §4 recipe, n/m from 2 to 13, three densities) are the
activation sources; five SAE families train on each model's fresh hidden activations, scored against the model's
represented columns W_i. SAE-1: TopK at the true L0 recovers the §4 model's 400 features at p = 0.01; SAE-2: the
recovery map, which falls as the true L0 approaches m.
"""

from __future__ import annotations

from . import analysis as A
from . import figures
from .claims import CLAIMS
from tms.config import Recipe, RunConfig
from tms.experiment import Experiment, FigureSpec, Param, load_notes

MODEL_STEPS = 3000
"""The toy models' training steps (the paper recipe otherwise): every feature of the 400 → 30 model at p = 0.01
is represented after 2 000 (measured here)."""


def configs(quick: bool, sae_map: int = 1) -> dict[str, RunConfig]:
    """One run per n (its models: one per density); ``sae_map=2``: the full map (BEYOND.md SAE-2)."""
    if quick:
        return {A.FOCUS_RUN: RunConfig.uniform(400, A.N_HIDDEN, [A.FOCUS_DENSITY], 1.0, recipe=Recipe().quick())}
    features, densities = (A.MAP_FEATURES, A.MAP_DENSITIES) if sae_map < 2 else (A.FULL_FEATURES, A.FULL_DENSITIES)
    if A.FOCUS_DENSITY not in densities or 400 not in features:
        raise ValueError("the map must hold SAE-1's model")
    return {f"n{n}": RunConfig.uniform(n, A.N_HIDDEN, list(densities), 1.0, recipe=Recipe(steps=MODEL_STEPS))
            for n in features}


def _list(xs) -> str:
    return ", ".join(f"{x:g}" for x in xs)


EXPERIMENTS = [
    Experiment(
        name="sae-recovery",
        title="SAE-1, SAE-2: sparse autoencoders on trained toy models, the recovery map",
        section="SAE", suite="beyond", order=25.1,
        summary=(f"Toy models (ReLU output, n = {_list(A.MAP_FEATURES)} features in m = {A.N_HIDDEN}, densities "
                 f"{_list(A.MAP_DENSITIES)}, {MODEL_STEPS} steps of the paper recipe) as activation sources: h = W x "
                 "drawn fresh from each model's own data, the truth its represented columns. On each model, TopK, "
                 "BatchTopK, Matryoshka (k = the true L0), JumpReLU and ReLU + L1 SAEs with n latents, trained at "
                 f"once ({A.MAP_STEPS} steps, batch {A.MAP_BATCH}); on the 400 → 30 model at p = 0.01, TopK at the "
                 f"true L0 for {A.SAE1_STEPS} steps (batch {A.SAE1_BATCH}, {A.SAE1_SEEDS} seeds)."),
        configs=configs,
        analyses=(A.analyze_sae1, A.analyze_map),
        figures=(FigureSpec("sae_recovery_map", figures.recovery_map),
                 FigureSpec("sae1_cosines", figures.sae1_cosines)),
        claims=CLAIMS,
        notes=load_notes(__name__, "notes.md", map_steps=A.MAP_STEPS, map_batch=A.MAP_BATCH, lr=f"{A.LR:g}",
                         sae1_steps=A.SAE1_STEPS, sae1_batch=A.SAE1_BATCH, l1=f"{A.L1_PENALTY:g}",
                         jump=f"{A.JUMP_PENALTY:g}", jump_threshold=f"{A.JUMP_THRESHOLD:g}",
                         jump_bandwidth=f"{A.JUMP_BANDWIDTH:g}", model_steps=MODEL_STEPS,
                         full_features=_list(A.FULL_FEATURES), full_densities=_list(A.FULL_DENSITIES)),
        params=(Param("sae_map", 1, "SAE-2 recovery map: 1 = the default 3 × 3 grid, 2 = the full grid"),),
    )
]
