"""SAE-1 and SAE-2 analysis: SAEs on the hidden activations of toy models this section trains (BEYOND.md SAE).

Every model of the experiment's runs (n features in m = 30 dimensions, one density per model) is an activation
source (:class:`tms.sae.sources.RunSource`: h = W x drawn fresh from the model's own distribution; the truth is
its represented columns). For each model, the five SAE families train at once on one stream into an SAE folder
``saes/map_<run>_<model>/`` (skipped when complete: a rerun resumes), d_sae = n, the ranked families at k = the
model's true L0 (rounded); and on the §4-like model (400 → 30 at p = 0.01) a longer TopK run at the true L0 for
SAE-1 (``saes/sae1/``). Tables: ``sae_map.csv`` (one row per model × family), ``sae1.csv`` (the SAE-1 SAEs) and
``sae1_features.csv`` (every represented feature's best |cos| with each SAE-1 dictionary).
"""

from __future__ import annotations

from typing import Any

from tms.analysis.folder import ExperimentFolder
from tms.sae import SAEConfig, SAETraining
from tms.sae import metrics
from tms.sae.config import RANKED
from tms.sae.evaluate import evaluate
from tms.sae.folder import train_folder
from tms.sae.sources import RunSource
from tms.tables import Column, Schema

N_HIDDEN = 30
MAP_FEATURES = (60, 120, 400)
"""n of the map's models: n/m = 2, 4 and 13.3."""
MAP_DENSITIES = (0.01, 0.03, 0.1)
FULL_FEATURES = (30, 60, 120, 240, 400, 800)
FULL_DENSITIES = (0.003, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2)
"""``--sae-map 2``: the full map (every n × density), for a Ray sweep or a long run."""
FOCUS_RUN, FOCUS_DENSITY = "n400", 0.01
"""SAE-1's model: §4's 400 features in 30 dimensions at p = 0.01 (BEYOND.md: true L0 ≈ 4)."""
FAMILIES = ("topk", "batchtopk", "jumprelu", "relu", "matryoshka")
LR = 3e-3
L1_PENALTY = 0.1
"""relu's λ in the map (BEYOND.md: every λ from 0.01 to 1 fails on the §4 model; SAE-3 sweeps it)."""
JUMP_PENALTY, JUMP_THRESHOLD, JUMP_BANDWIDTH = 0.1, 0.1, 0.05
"""jumprelu's L0 coefficient, initial θ and kernel width ε (on the §4 model, 2 000 steps: λ 0.05 gives L0 10,
λ 0.2 L0 1.9; θ and ε of 0.01 or 0.001 gave L0 20-66)."""
MAP_STEPS, MAP_BATCH = 1000, 512
SAE1_STEPS, SAE1_BATCH, SAE1_SEEDS = 2500, 1024, 2
QUICK_STEPS = 40
EVAL_BATCHES, QUICK_EVAL_BATCHES = 8, 1
"""Fresh batches of 4096 samples each SAE is scored on (quick: one)."""
SEED = 22
"""Seeds the activation streams (each SAE's init is seeded by its config)."""

MAP = Schema("sae_map.csv", (
    Column("run", "str"), Column("instance", "int"), Column("n", "int"), Column("m", "int"),
    Column("density", "float"), Column("represented", "int", "features with ‖W_i‖ > 0.5: the truth"),
    Column("true_l0", "float", "mean active represented features per sample"),
    Column("family", "str"), Column("k", "int"), Column("penalty", "float"),
    Column("mmcs", "float"), Column("mcc", "float"), Column("recovered", "float", "share at |cos| ≥ 0.99"),
    Column("l0", "float"), Column("dead", "int"), Column("explained_variance", "float"),
    Column("shrinkage", "float"), Column("steps", "int"),
), doc="one row per model × SAE family: recovery of the model's represented features on fresh samples")
SAE1 = Schema("sae1.csv", (
    Column("seed", "int"), Column("k", "int"), Column("true_l0", "float"), Column("represented", "int"),
    Column("mmcs", "float"), Column("mcc", "float"), Column("recovered", "float"), Column("l0", "float"),
    Column("dead", "int"), Column("explained_variance", "float"), Column("shrinkage", "float"),
    Column("steps", "int"),
), doc="SAE-1: TopK SAEs at the true L0 on the 400 → 30 model at p = 0.01")
SAE1_FEATURES = Schema("sae1_features.csv", (
    Column("seed", "int"), Column("feature", "int"), Column("best_cos", "float"),
), doc="each represented feature's best |cos| with each SAE-1 dictionary")


def settings(exp: ExperimentFolder) -> dict[str, Any]:
    """Steps and batch sizes for this run (quick: a few steps, to exercise the code)."""
    quick = bool(getattr(exp, "quick", False))
    if quick:
        return {"map": SAETraining(QUICK_STEPS, 128, SEED, 10), "sae1": SAETraining(QUICK_STEPS, 128, SEED, 10)}
    return {"map": SAETraining(MAP_STEPS, MAP_BATCH, SEED), "sae1": SAETraining(SAE1_STEPS, SAE1_BATCH, SEED)}


def eval_batches(exp: ExperimentFolder) -> int:
    return QUICK_EVAL_BATCHES if getattr(exp, "quick", False) else EVAL_BATCHES


def family_config(family: str, d_sae: int, k: int, seed: int = 0) -> SAEConfig:
    """One SAE of a family at the section's settings (ranked: k; relu and jumprelu: their λ)."""
    if family in RANKED:
        prefixes = (d_sae // 8, d_sae // 2) if family == "matryoshka" else ()
        return SAEConfig(family, d_sae, k=min(k, d_sae), lr=LR, seed=seed, prefixes=prefixes)
    if family == "jumprelu":
        return SAEConfig(family, d_sae, penalty=JUMP_PENALTY, threshold=JUMP_THRESHOLD, bandwidth=JUMP_BANDWIDTH,
                         lr=LR, seed=seed)
    return SAEConfig(family, d_sae, penalty=L1_PENALTY, lr=LR, seed=seed)


def sources(exp: ExperimentFolder) -> list[tuple[str, int, RunSource]]:
    """Every model of the experiment's runs as a source: (run, instance, source)."""
    out = []
    for run in sorted(exp.run_names()):
        cfg = exp.config(run)
        for i in range(cfg.n_instances):
            out.append((run, i, RunSource(exp.run_dir(run), i)))
    return out


def analyze_map(exp: ExperimentFolder) -> None:
    """Train and score the map's SAEs (every model × family); write sae_map.csv."""
    training = settings(exp)["map"]
    rows = []
    for run, i, src in sources(exp):
        n = exp.config(run).n_features
        density = float(src.density[0, 0])
        k = max(1, round(src.true_l0))
        configs = [family_config(f, n, k) for f in FAMILIES]
        trained = train_folder(exp.path / "saes" / f"map_{run or 'run'}_{i}", src, configs, training)
        for row in evaluate(trained, src, batches=eval_batches(exp)):
            rows.append({"run": run, "instance": i, "n": n, "m": src.d_in, "density": density,
                         "represented": len(src.represented), "true_l0": row["true_l0"], "family": row["family"],
                         "k": row["k"], "penalty": row["penalty"], "mmcs": row["mmcs"], "mcc": row["mcc"],
                         "recovered": row["recovered"], "l0": row["l0"], "dead": row["dead"],
                         "explained_variance": row["explained_variance"], "shrinkage": row["shrinkage"],
                         "steps": training.steps})
    exp.write(MAP, rows)


def focus_source(exp: ExperimentFolder) -> RunSource:
    """SAE-1's model: the focus run's model at the focus density (its first model in a quick run)."""
    cfg = exp.config(FOCUS_RUN)
    at = [i for i in range(cfg.n_instances) if abs(cfg.density[i // cfg.restarts][0] - FOCUS_DENSITY) < 1e-12]
    return RunSource(exp.run_dir(FOCUS_RUN), at[0] if at else 0)


def analyze_sae1(exp: ExperimentFolder) -> None:
    """SAE-1: TopK at the true L0 on the §4 model, longer; write sae1.csv and sae1_features.csv."""
    training = settings(exp)["sae1"]
    src = focus_source(exp)
    k = max(1, round(src.true_l0))
    configs = [family_config("topk", exp.config(FOCUS_RUN).n_features, k, seed) for seed in range(SAE1_SEEDS)]
    trained = train_folder(exp.path / "saes" / "sae1", src, configs, training)
    rows, features = [], []
    for sae, row in zip(trained, evaluate(trained, src, batches=eval_batches(exp))):
        rows.append({"seed": sae.config.seed, "k": k, "true_l0": row["true_l0"], "represented": len(src.represented),
                     **{c: row[c] for c in ("mmcs", "mcc", "recovered", "l0", "dead", "explained_variance",
                                            "shrinkage")}, "steps": training.steps})
        best = metrics.best_cosines(src.directions, sae.W_dec)
        features += [{"seed": sae.config.seed, "feature": int(f), "best_cos": float(c)}
                     for f, c in zip(src.represented.tolist(), best.tolist())]
    exp.write(SAE1, rows)
    exp.write(SAE1_FEATURES, features)
