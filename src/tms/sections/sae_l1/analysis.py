"""SAE-3 analysis: ReLU + L1 against the families that control L0 directly, on the §4-like model of sae-recovery
(400 features in 30 dimensions at p = 0.01, true L0 ≈ 4; BEYOND.md SAE-3).

One SAE folder inside the experiment folder (``saes/``; skipped when complete, so a rerun resumes): ReLU + L1 over
a sweep of λ, TopK and BatchTopK at the true L0, JumpReLU over its own λ sweep, and three SAEs started at the true
dictionary (ReLU + L1, TopK), all trained at once on one stream of the model's activations. Table
``sae_l1.csv``: one row per SAE with its recovery, L0 and shrinkage (Σ‖ĥ‖ / Σ‖h‖).
"""

from __future__ import annotations

from tms.analysis.folder import ExperimentFolder
from tms.sae import SAEConfig, SAETraining
from tms.sae.evaluate import evaluate
from tms.sae.folder import train_folder
from tms.sections.sae_recovery.analysis import JUMP_BANDWIDTH, JUMP_THRESHOLD, LR, eval_batches, focus_source
from tms.tables import Column, Schema

SOURCE = "sae-recovery"
"""The experiment whose 400 → 30 model at p = 0.01 is the activation source."""
L1_SWEEP = (0.01, 0.03, 0.1, 0.3, 1.0)
"""BEYOND.md: 'ReLU + L1 at every coefficient from 0.01 to 1'."""
JUMP_SWEEP = (0.1, 0.2)
TRUTH_L1 = 0.1
"""BEYOND.md: 'started exactly at the true dictionary, L1 (λ = 0.1) drifts away'."""
D_SAE = 400
STEPS, BATCH, QUICK_STEPS = 2000, 1024, 40
SEED = 23

SAES = Schema("sae_l1.csv", (
    Column("sae", "int"), Column("family", "str"), Column("penalty", "float"), Column("k", "int"),
    Column("init", "str", "random, or truth: started at the true dictionary"),
    Column("mmcs", "float"), Column("mcc", "float"), Column("recovered", "float", "share at |cos| ≥ 0.99"),
    Column("l0", "float"), Column("true_l0", "float"), Column("dead", "int"),
    Column("explained_variance", "float"), Column("shrinkage", "float", "Σ‖ĥ‖ / Σ‖h‖ over fresh samples"),
    Column("steps", "int"),
), doc="one row per SAE on the 400 → 30 model at p = 0.01")


def saes(k: int) -> list[SAEConfig]:
    """The sweep, the comparison at the true L0 and the SAEs started at the truth."""
    jump = dict(threshold=JUMP_THRESHOLD, bandwidth=JUMP_BANDWIDTH, lr=LR)
    return ([SAEConfig("relu", D_SAE, penalty=lam, lr=LR) for lam in L1_SWEEP]
            + [SAEConfig("topk", D_SAE, k=k, lr=LR), SAEConfig("batchtopk", D_SAE, k=k, lr=LR)]
            + [SAEConfig("jumprelu", D_SAE, penalty=lam, **jump) for lam in JUMP_SWEEP]
            + [SAEConfig("relu", D_SAE, penalty=TRUTH_L1, lr=LR, init="truth"),
               SAEConfig("topk", D_SAE, k=k, lr=LR, init="truth")])


def analyze_l1(exp: ExperimentFolder) -> None:
    """Train and score the SAEs; write sae_l1.csv."""
    quick = bool(getattr(exp, "quick", False))
    training = SAETraining(QUICK_STEPS if quick else STEPS, 128 if quick else BATCH, SEED, 10 if quick else 100)
    src = focus_source(ExperimentFolder(exp.path.parent / SOURCE))
    k = max(1, round(src.true_l0))
    trained = train_folder(exp.path / "saes", src, saes(k), training)
    keep = ("sae", "family", "penalty", "k", "init", "mmcs", "mcc", "recovered", "l0", "true_l0", "dead",
            "explained_variance", "shrinkage")
    rows = evaluate(trained, src, batches=eval_batches(exp))
    exp.write(SAES, [{**{c: row[c] for c in keep}, "steps": training.steps} for row in rows])
