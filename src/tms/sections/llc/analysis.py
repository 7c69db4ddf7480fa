"""The LLC of the k-gon critical points (Chen et al. 2023) by our SGLD and by devinterp 1.3.2, a regular model's
(linear regression), and how the estimate moves with the localization γ and the chain length.

Every SGLD estimate is stored in its own folder under ``sgld/`` (:func:`tms.llc.write_estimates`: llc.json with
the hyper-parameters, traces.safetensors, estimates.csv, chains.csv), skipped when complete with the same
settings, so a rerun resumes and the claims and figures read stored numbers only.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import torch

from tms import exact, llc
from tms.analysis.folder import ExperimentFolder
from tms.config import Recipe, RunConfig
from tms.tables import Column, Schema

N = 1000
"""Samples in the fixed dataset (Chen et al.: n = 1000 for the SGD runs and the LLC estimates)."""
FEATURES = 6
KGONS = ("6", "5+", "5", "4+", "4")
THEORY = {"6": 8.5, "5+": 8.5, "5": 7.0}
"""Chen et al.'s theoretical learning coefficients (the others are not given)."""
DATA_SEED = 0
MAIN = llc.SGLD(step_size=1e-3, gamma=1.0, draws=2000, chains=16, seed=0)
"""Chen et al.'s sampler (ε = 1e-3, γ = 1, nβ = n / ln n, full batch) with longer chains than their 500 draws."""
MATCHED = llc.SGLD(step_size=1e-3, gamma=1.0, draws=500, chains=4, seed=1)
"""Ours and devinterp's at these same settings (LLC-4); devinterp's SGLD costs ~3.5 ms a draw here."""
GAMMAS = (1.0, 10.0, 100.0)
LENGTHS = (250, 500, 1000, 2000, 4000)
"""Sensitivity: λ̂ over the first L draws of one 4 000-draw run per γ (4 chains per k-gon)."""
SENSITIVITY = llc.SGLD(step_size=1e-3, draws=max(LENGTHS), chains=4, seed=2)
REGULAR_D = 10
REGULAR = llc.SGLD(step_size=1e-4, draws=2000, burn_in=200, chains=8, seed=3)
"""Linear regression: ε = 1e-4 (its curvature nβ·2 ≈ 290 makes ε = 1e-3 overshoot by the discretisation)."""

KGON_TABLE = Schema("llc_kgons_estimates.csv", (
    Column("kgon", "str"), Column("theory", doc="Chen et al.'s λ (NaN where not given)"),
    Column("exact_loss", doc="L(w*), the exact expected loss"), Column("data_loss", doc="L_n(w*) on the dataset"),
    Column("ours", doc="λ̂, MAIN settings"), Column("ours_stderr"), Column("ours_escaped", "int"),
    Column("ours_chains", "int"), Column("ours_first_half"), Column("ours_second_half"), Column("ours_ess"),
    Column("matched", doc="ours at MATCHED settings"), Column("matched_stderr"),
    Column("devinterp", doc="devinterp's traces through the same estimator (escape rule); NaN when not run"),
    Column("devinterp_stderr"), Column("devinterp_own", doc="devinterp's own llc/mean (no escape rule)"),
    Column("devinterp_escaped", "int"), Column("devinterp_ran", "bool")),
    doc="Per k-gon: theory, ours (MAIN and MATCHED) and devinterp's estimate at MATCHED settings.")
SENSITIVITY_TABLE = Schema("llc_sensitivity.csv", (
    Column("kgon", "str"), Column("gamma"), Column("draws", "int"), Column("llc"), Column("stderr"),
    Column("escaped", "int"), Column("drift", doc="second half − first half of those draws")),
    doc="λ̂ against the localization γ and the chain length.")
REGULAR_TABLE = Schema("llc_regular.csv", (
    Column("d", "int"), Column("theory"), Column("llc"), Column("stderr"), Column("escaped", "int"),
    Column("first_half"), Column("second_half")), doc="Linear regression with d parameters: λ = d / 2.")


TRAINED = "trained"
"""The run folder of a c = 6, m = 2 model trained by the package's trainer (fresh data each step, density
:data:`TRAINED_DENSITY`): its LLC by ``tms llc``'s path. Its recipe also tells the analyses whether this is a
quick run (they take only the experiment folder)."""
TRAINED_DENSITY = 0.05


def trained_config(quick: bool) -> RunConfig:
    return RunConfig.uniform(FEATURES, 2, [TRAINED_DENSITY], 1.0, model="relu", restarts=4,
                             recipe=Recipe().quick() if quick else Recipe())


def is_quick(exp: ExperimentFolder) -> bool:
    """Whether the experiment was reproduced with --quick (its trained run has the quick recipe)."""
    return exp.config(TRAINED).recipe.steps < Recipe().steps


def settings(quick: bool) -> dict[str, llc.SGLD]:
    """The sampler settings of each estimate, shortened for quick runs (a smoke test)."""
    full = {"main": MAIN, "matched": MATCHED, "sensitivity": SENSITIVITY, "regular": REGULAR}
    if not quick:
        return full
    return {k: replace(v, draws=min(v.draws, 100), chains=2, burn_in=min(v.burn_in, 20)) for k, v in full.items()}


def dataset(n: int = N, seed: int = DATA_SEED) -> torch.Tensor:
    return llc.one_hot_data(n, FEATURES, torch.Generator().manual_seed(seed))


def _kgon(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    k, positive = exact.parse_kgon(name)
    return exact.kgon(k, c=FEATURES, positive=positive)


def kgon_params(names=KGONS) -> llc.Params:
    """w* of every k-gon named (Table A.1's l*, b*; zero columns' bias −0.5 or 1/(2c)), ``[models, ...]``."""
    pairs = [_kgon(name) for name in names]
    return {"W": torch.stack([W for W, _ in pairs]).float(), "b": torch.stack([b for _, b in pairs]).float()}


def stored(folder: Path, meta: dict[str, Any], compute: Callable[[], llc.Estimates]) -> list[Any]:
    """The estimates.csv rows of an estimate folder, computed and written first unless complete with ``meta``."""
    if not llc.is_complete(folder, meta):
        llc.write_estimates(folder, compute(), meta)
    return llc.ESTIMATES.read(folder)


def _sgld_dir(exp: ExperimentFolder, name: str) -> Path:
    return exp.path / "sgld" / name


def _devinterp(exp: ExperimentFolder, config: llc.SGLD, x: torch.Tensor) -> list[Any] | None:
    """devinterp's estimates of every k-gon at ``config`` (through our summary of its traces), or None when
    devinterp is not installed."""
    try:
        import devinterp  # noqa: F401
    except ImportError:
        return None
    center = kgon_params()
    meta = llc.meta_of(config, n=N, data_seed=DATA_SEED, kgons=list(KGONS), sampler="devinterp 1.3.2")

    def compute() -> llc.Estimates:
        runs = [llc.reference_estimate(center["W"][i], center["b"][i], x, config) for i in range(len(KGONS))]
        nbeta = config.resolved_nbeta(N)
        traces = torch.stack([r["traces"] for r in runs])
        return llc.Estimates(config=config, n=N, traces=traces,
                             estimates=tuple(llc.summarize(r["traces"], r["init_loss"], nbeta) for r in runs))

    rows = stored(_sgld_dir(exp, "devinterp"), meta, compute)
    own = [float(t.mean()) for t in llc.read_traces(_sgld_dir(exp, "devinterp"))]  # mean loss per k-gon
    return [dict(r, own=config.resolved_nbeta(N) * (m - r["init_loss"])) for r, m in zip(rows, own)]


def analyze_estimates(exp: ExperimentFolder) -> None:
    """llc_kgons_estimates.csv: every k-gon's λ̂ by our sampler (main and matched settings) and devinterp's."""
    x, center, cfg = dataset(), kgon_params(), settings(is_quick(exp))
    pot = llc.TiedReLU(x)
    rows = {}
    for name in ("main", "matched"):
        meta = llc.meta_of(cfg[name], n=N, data_seed=DATA_SEED, kgons=list(KGONS), sampler="tms")
        rows[name] = stored(_sgld_dir(exp, name), meta, lambda c=cfg[name]: llc.sample(pot, center, c))
    dev = _devinterp(exp, cfg["matched"], x)
    exact_losses = exact.single_feature_loss  # the high-sparsity limit's exact loss (24's tms.exact)
    out = []
    for i, name in enumerate(KGONS):
        main, matched = rows["main"][i], rows["matched"][i]
        d = dev[i] if dev is not None else None
        W, b = _kgon(name)
        out.append({"kgon": name, "theory": THEORY.get(name, math.nan), "exact_loss": float(exact_losses(W, b)),
                    "data_loss": main.init_loss, "ours": main.llc, "ours_stderr": main.stderr,
                    "ours_escaped": main.escaped, "ours_chains": main.kept + main.escaped,
                    "ours_first_half": main.first_half, "ours_second_half": main.second_half, "ours_ess": main.ess,
                    "matched": matched.llc, "matched_stderr": matched.stderr,
                    "devinterp": d["llc"] if d else math.nan, "devinterp_stderr": d["stderr"] if d else math.nan,
                    "devinterp_own": d["own"] if d else math.nan, "devinterp_escaped": d["escaped"] if d else 0,
                    "devinterp_ran": d is not None})
    exp.write(KGON_TABLE, out)


def analyze_sensitivity(exp: ExperimentFolder) -> None:
    """llc_sensitivity.csv: λ̂ of every k-gon for each γ over the first L draws of one long run."""
    x, center, base = dataset(), kgon_params(), settings(is_quick(exp))["sensitivity"]
    pot = llc.TiedReLU(x)
    lengths = [L for L in LENGTHS if L <= base.draws] or [base.draws]
    out = []
    for gamma in GAMMAS:
        config = replace(base, gamma=gamma)
        folder = _sgld_dir(exp, f"sensitivity-gamma{gamma:g}")
        stored(folder, llc.meta_of(config, n=N, data_seed=DATA_SEED, kgons=list(KGONS), sampler="tms"),
               lambda c=config: llc.sample(pot, center, c))
        traces = llc.read_traces(folder)
        init = [r.init_loss for r in llc.ESTIMATES.read(folder)]
        for i, name in enumerate(KGONS):
            for L in lengths:
                e = llc.summarize(traces[i, :, :L], init[i], config.resolved_nbeta(N))
                out.append({"kgon": name, "gamma": gamma, "draws": L, "llc": e.llc, "stderr": e.stderr,
                            "escaped": e.escaped, "drift": e.drift})
    exp.write(SENSITIVITY_TABLE, out)


def analyze_regular(exp: ExperimentFolder) -> None:
    """llc_regular.csv: linear regression y = X w + noise, d = 10, n = 1000, at the least-squares point."""
    config = settings(is_quick(exp))["regular"]
    g = torch.Generator().manual_seed(DATA_SEED)
    X = torch.randn(N, REGULAR_D, generator=g)
    y = X @ torch.randn(REGULAR_D, generator=g) + 0.5 * torch.randn(N, generator=g)
    pot = llc.LinearRegression(X, y)
    meta = llc.meta_of(config, n=N, data_seed=DATA_SEED, model=f"linear regression d={REGULAR_D}", sampler="tms")
    (row,) = stored(_sgld_dir(exp, "regular"), meta, lambda: llc.sample(pot, pot.minimum(), config))
    exp.write(REGULAR_TABLE, [{"d": REGULAR_D, "theory": REGULAR_D / 2, "llc": row.llc, "stderr": row.stderr,
                               "escaped": row.escaped, "first_half": row.first_half,
                               "second_half": row.second_half}])


TRAINED_TABLE = Schema("llc_trained.csv", (
    Column("instance", "int"), Column("loss", doc="the run's final loss (mean over features)"), Column("llc"),
    Column("stderr"), Column("escaped", "int"), Column("represented", "int", doc="features with ‖W_i‖ > 0.5")),
    doc="tms llc on the trained run: λ̂ of each model on n samples of its own data distribution.")


def analyze_trained(exp: ExperimentFolder) -> None:
    """llc_trained.csv: the trained run's models through ``tms llc`` (MAIN's sampler, written to RUN/llc/)."""
    config = settings(is_quick(exp))["matched"]
    folder, _ = llc.estimate_run_folder(exp.run_dir(TRAINED), config, n=N, data_seed=DATA_SEED)
    run = exp.run(TRAINED)
    norms = run.W.norm(dim=1)
    exp.write(TRAINED_TABLE, [{"instance": r.model, "loss": float(run.loss[r.model]), "llc": r.llc,
                               "stderr": r.stderr, "escaped": r.escaped,
                               "represented": int((norms[r.model] > 0.5).sum())} for r in llc.ESTIMATES.read(folder)])
