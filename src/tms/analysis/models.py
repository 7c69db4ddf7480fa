"""Tables every experiment of tied models gets: one row per trained model, one per (model, feature), and the
data of the report's WᵀW explorer (PAPER.md §0 metrics).

``models.csv``: the model's setting, restart, loss, whether it is its setting's lowest-loss restart, how many
features it represents and how many of those are in superposition, ‖W‖_F² and D* = m / ‖W‖_F².
``features.csv``: per feature its importance, density, norm, superposition, dimensionality D_i, bias, the
labels ``represented`` / ``superposed`` (thresholds in :mod:`tms.layout`), the strongest positive interference
it receives (max_(j≠i) Ŵ_i·W_j) and its closest represented neighbour's cosine.
``explorer.json``: WᵀW, b, ‖W_i‖ and superposition of each setting's lowest-loss restart, for runs whose
settings differ only in a shared density (a slider over sparsity makes sense).
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..errors import RunFolderError
from ..files import atomic_write_json
from ..layout import REPRESENTED_NORM, SUPERPOSED
from ..metrics import (  # feature_measures: the rows of features.csv, also what tms.Results.table() gives
    dimensions_per_feature,
    feature_measures,
    feature_norms,
    gram,
    superposition,
)
from ..model import is_tied
from ..runs import Run
from ..tables import Column, Schema
from .folder import ExperimentFolder, Tables

MODELS = Schema("models.csv", (
    Column("run", "str", "run folder, relative to the experiment ('' for the experiment folder)"),
    Column("instance", "int"), Column("setting", "int"), Column("restart", "int"),
    Column("density", "float", "the setting's density when every feature shares it, else empty"),
    Column("loss", "float", "final loss on fresh samples (the trainer's mean over features)"),
    Column("best", "bool", "the lowest-loss restart of its setting"),
    Column("n_represented", "int", f"features with ‖W_i‖ > {REPRESENTED_NORM:g}"),
    Column("n_superposed", "int", f"represented features with superposition ≥ {SUPERPOSED:g}"),
    Column("frobenius_sq", "float", "‖W‖_F²"),
    Column("dims_per_feature", "float", "D* = m / ‖W‖_F²"),
))
FEATURES = Schema("features.csv", (
    Column("run", "str"), Column("instance", "int"), Column("feature", "int"),
    Column("importance", "float"), Column("density", "float"),
    Column("norm", "float", "‖W_i‖"),
    Column("superposition", "float", "Σ_(j≠i) (Ŵ_i·W_j)²"),
    Column("dimensionality", "float", "D_i = ‖W_i‖² / Σ_j (Ŵ_i·W_j)²"),
    Column("bias", "float", "b_i"),
    Column("represented", "bool"), Column("superposed", "bool"),
    Column("max_overlap", "float", "max_(j≠i) Ŵ_i·W_j: the strongest interference feature i receives (empty if n = 1)"),
    Column("min_cos_represented", "float",
           "min cos∠(W_i, W_j) over the other represented features j (empty unless i and some j are represented); "
           "≈ −1: an antipodal partner"),
))
EXPLORER_FILE = "explorer.json"
EXPLORER_MAX_FEATURES = 100
EXPLORER_MAX_SETTINGS = 40


def _uniform_density(row) -> float | None:
    return row[0] if all(v == row[0] for v in row) else None


def model_rows(sub: str, run: Run) -> list[dict[str, Any]]:
    W = run.W
    norms, sup = feature_norms(W), superposition(W)
    rep = norms > REPRESENTED_NORM
    frob = W.double().pow(2).sum(dim=(1, 2))
    dstar = dimensions_per_feature(W.double())
    best = set(run.best_instances())
    cfg = run.config
    loss = run.loss.tolist()
    return [{
        "run": sub, "instance": i, "setting": i // cfg.restarts, "restart": i % cfg.restarts,
        "density": _uniform_density(cfg.density[i // cfg.restarts]), "loss": loss[i], "best": i in best,
        "n_represented": int(rep[i].sum()), "n_superposed": int((rep[i] & (sup[i] >= SUPERPOSED)).sum()),
        "frobenius_sq": float(frob[i]), "dims_per_feature": float(dstar[i]),
    } for i in range(cfg.n_instances)]


def feature_rows(sub: str, run: Run) -> list[dict[str, Any]]:
    """One row per (model, feature) of a run (columns of :data:`FEATURES`)."""
    dens, imps = run.config.instance_density(), run.config.instance_importance()
    return [{"run": sub, "instance": i, "importance": imps[i][m["feature"]], "density": dens[i][m["feature"]], **m}
            for i, model in enumerate(feature_measures(run.W, run.b)) for m in model]


def _r(v: float, digits: int = 4) -> float | None:
    """A number for the page's JSON: rounded, and None where training diverged (JSON has no NaN)."""
    v = float(v)
    return round(v, digits) if math.isfinite(v) else None


def explorer_eligible(run: Run) -> bool:
    """Settings that differ only in a shared density: a slider across sparsity makes sense."""
    cfg = run.config
    if any(_uniform_density(row) is None for row in cfg.density):
        return False
    if cfg.n_features > EXPLORER_MAX_FEATURES or cfg.n_settings > EXPLORER_MAX_SETTINGS:
        return False
    first = cfg.importance[0]
    return all(all(math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-12) for a, b in zip(row, first))
               for row in cfg.importance)


def explorer_run(sub: str, run: Run) -> dict[str, Any]:
    """WᵀW, b, ‖W_i‖ and superposition of the lowest-loss restart of every setting (PAPER.md §0)."""
    cfg = run.config
    W = run.W.double()
    G, norms, sup = gram(W), feature_norms(W), superposition(W)
    loss = run.loss
    settings = []
    for s, best in enumerate(run.best_instances()):
        members = run.setting_instances(s)
        entry: dict[str, Any] = {
            "density": cfg.density[s][0],
            "instance": best,
            "restart": run.instances[best]["restart"],
            "loss": _r(loss[best], 7),
            "restart_loss": [_r(loss[i], 7) for i in members],
            "restart_represented": [int((norms[i] > REPRESENTED_NORM).sum()) for i in members],
            "gram": [[_r(v) for v in row] for row in G[best].tolist()],
            "b": [_r(v) for v in run.b[best].tolist()],
            "norm": [_r(v) for v in norms[best].tolist()],
            "sup": [_r(v) for v in sup[best].tolist()],
        }
        if cfg.n_hidden == 2:
            entry["W"] = [[_r(v) for v in row] for row in W[best].tolist()]
        settings.append(entry)
    return {"run": sub, "model": cfg.model, "n": cfg.n_features, "m": cfg.n_hidden, "restarts": cfg.restarts,
            "importance": [_r(v, 6) for v in cfg.importance[0]], "settings": settings}


def analyze_models(exp: ExperimentFolder) -> None:
    """Write models.csv, features.csv and explorer.json for every stored run of tied models."""
    models, features, groups = [], [], {}
    for sub in exp.run_names():
        run = exp.run(sub)
        if not is_tied(run.config.model):
            continue
        models += model_rows(sub, run)
        features += feature_rows(sub, run)
        if explorer_eligible(run):
            key = tuple(round(row[0], 9) for row in run.config.density)
            groups.setdefault(key, []).append(explorer_run(sub, run))
    exp.write(MODELS, models)
    exp.write(FEATURES, features)
    atomic_write_json(exp.tables_dir / EXPLORER_FILE,
                      {"groups": [{"densities": list(k), "runs": v} for k, v in groups.items()]})


def read_explorer(tables: Tables) -> list[dict[str, Any]]:
    """The explorer groups written by :func:`analyze_models` (RunFolderError for a file that is not one)."""
    path = tables.tables_dir / EXPLORER_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        groups = data["groups"]
        if not isinstance(groups, list) or not all(isinstance(g, dict) and isinstance(g.get("runs"), list)
                                                   for g in groups):
            raise TypeError
        return groups
    except FileNotFoundError:
        raise RunFolderError(f"table {path} does not exist; run the analysis first") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise RunFolderError(f"table {path} is not an explorer table") from None

