"""SAE-4 analysis: Sharkey, Braun & Millidge (2022)'s setting, 512 random unit directions in 256 dimensions, and
untied ReLU + L1 SAEs of three dictionary sizes × four L1 coefficients, trained at once on one activation stream.

Trains one SAE folder inside the experiment folder (``saes/``; :func:`tms.sae.folder.train_folder`: skipped when
complete with the same configs, so a rerun resumes), scores every SAE on fresh samples
(:func:`tms.sae.evaluate.evaluate`) and writes ``sharkey_saes.csv`` (one row per SAE) and ``sharkey_features.csv``
(each true feature's best |cos| with each dictionary, by frequency rank).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from tms.analysis.folder import ExperimentFolder
from tms.sae import SAEConfig, SAETraining
from tms.sae import metrics
from tms.sae.evaluate import evaluate
from tms.sae.folder import train_folder
from tms.sae.sources import sharkey
from tms.tables import Column, Schema

N_TRUE, D_IN, MEAN_ACTIVE, DECAY, SOURCE_SEED = 512, 256, 5.0, 0.99, 0
"""Sharkey et al. (2022): 512 ground-truth directions in 256 dimensions, about 5 active per sample, frequencies
∝ 0.99^i (BEYOND.md SAE-4)."""
SIZES = (256, 512, 1024)
LAMBDAS = (0.03, 0.1, 0.3, 1.0)
LR, BATCH, STEPS = 3e-3, 256, 5000
"""BEYOND.md's measured calibration, the default run: Adam lr 3e-3, batch 256, 5 000 steps. Shorter or smaller
runs miss claims (notes): 1 500 steps, or batch 128."""
QUICK_STEPS, QUICK_SIZES, QUICK_LAMBDAS = 100, (64, 128, 256), (0.1, 1.0)
QUICK_TRUE, QUICK_D = 128, 64
"""The quick run: the same setting at a quarter of the size, for a few seconds."""
EVAL_BATCHES, EVAL_BATCH, EVAL_SEED = 8, 4096, 12345
RECOVERED = 0.9
"""A true feature counts as found by a dictionary at best |cos| ≥ 0.9 (for the rare-feature count)."""

SAES = Schema("sharkey_saes.csv", (
    Column("d_sae", "int"), Column("penalty", "float"), Column("n_true", "int"),
    Column("mmcs", "float"), Column("mcc", "float"), Column("recovered", "float", "share at |cos| ≥ 0.99"),
    Column("mmcs_frequent", "float", "MMCS over the more frequent half of the true features"),
    Column("mmcs_rare", "float", "MMCS over the rarer half"),
    Column("missed_median_rank", "float", "median frequency rank (0 = most frequent) of the features with best "
                                          "|cos| < 0.9; empty when none is missed"),
    Column("l0", "float"), Column("true_l0", "float"), Column("dead", "int", "latents that never fire on the "
                                                                            "evaluation stream"),
    Column("dead_share", "float"), Column("explained_variance", "float"), Column("shrinkage", "float"),
    Column("steps", "int"), Column("batch", "int"),
), doc="one row per SAE of the size × λ grid, scored on fresh samples")
FEATURES = Schema("sharkey_features.csv", (
    Column("d_sae", "int"), Column("penalty", "float"), Column("feature", "int", "frequency rank (0: most frequent)"),
    Column("probability", "float"), Column("best_cos", "float"),
), doc="each true feature's best |cos| with each dictionary")


def grid(quick: bool, steps: int, batch: int = BATCH) -> tuple[Any, list[SAEConfig], SAETraining]:
    """The source, the SAE configs (size-major) and the training of a run."""
    if quick:
        source = sharkey(QUICK_TRUE, QUICK_D, MEAN_ACTIVE, DECAY, SOURCE_SEED)
        sizes, lambdas, steps = QUICK_SIZES, QUICK_LAMBDAS, QUICK_STEPS
    else:
        source = sharkey(N_TRUE, D_IN, MEAN_ACTIVE, DECAY, SOURCE_SEED)
        sizes, lambdas = SIZES, LAMBDAS
    configs = [SAEConfig("relu", d, penalty=lam, lr=LR, seed=0) for d in sizes for lam in lambdas]
    return source, configs, SAETraining(steps=steps, batch_size=batch, seed=0)


def _feature_rows(source: Any, sae: Any) -> tuple[torch.Tensor, list[dict[str, Any]]]:
    best = metrics.best_cosines(source.directions, sae.W_dec)
    p = source.args["p"]
    rows = [{"d_sae": sae.config.d_sae, "penalty": sae.config.penalty, "feature": i, "probability": float(p[i]),
             "best_cos": float(best[i])} for i in range(len(best))]
    return best, rows


def analyze_sharkey(exp: ExperimentFolder) -> None:
    quick = exp.quick
    steps = exp.params.get("sharkey_steps", STEPS)
    source, configs, training = grid(quick, steps, exp.params.get("sharkey_batch", BATCH))
    trained = train_folder(Path(exp.path) / "saes", source, configs, training)
    scored = evaluate(list(trained), source, batches=EVAL_BATCHES, batch_size=EVAL_BATCH, seed=EVAL_SEED)
    rows, feature_rows = [], []
    n = len(source.directions)
    for sae, row in zip(trained, scored):
        best, frows = _feature_rows(source, sae)
        feature_rows += frows
        missed = torch.nonzero(best < RECOVERED).flatten().double()
        rows.append({"d_sae": sae.config.d_sae, "penalty": sae.config.penalty, "n_true": n,
                     "mmcs": row["mmcs"], "mcc": row["mcc"], "recovered": row["recovered"],
                     "mmcs_frequent": float(best[: n // 2].mean()), "mmcs_rare": float(best[n // 2:].mean()),
                     "missed_median_rank": float(missed.median()) if len(missed) else None,
                     "l0": row["l0"], "true_l0": row["true_l0"], "dead": row["dead"],
                     "dead_share": row["dead"] / sae.config.d_sae, "explained_variance": row["explained_variance"],
                     "shrinkage": row["shrinkage"], "steps": training.steps,
                     "batch": training.batch_size})
    exp.write(SAES, rows)
    exp.write(FEATURES, feature_rows)
