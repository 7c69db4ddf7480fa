"""§3 phase experiments: classification of the extra feature, the drop-the-worst majority, phase.csv from a
fabricated run folder, the claims' measures, and (slow) the default diagrams against S3-1…S3-4."""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tms import pipeline
from tms import theory as T
from tms.sections.phase import analysis as A
from tms.analysis.folder import ExperimentFolder
from tms.sections.phase import claims as C
from tms.config import Overrides
from tms.errors import ConfigError
from tms.registry import all_experiments
import tms.sections.phase as P
from tms.runs import save_run
from tms.train import TrainResult

QUICK = P.RECIPE.quick()

NR, DED, SUP = T.NOT_REPRESENTED, T.DEDICATED, T.SUPERPOSITION


def _labels(*Ws) -> list[int]:
    W = torch.tensor(np.array(Ws), dtype=torch.float32)
    return A.classify_extra(W)[0].tolist()


def test_classify_2_1_by_hand():
    assert _labels([[1.0, -1.0]], [[0.0, 1.0]], [[1.0, 0.0]]) == [SUP, DED, NR]
    # thresholds: ‖W_2‖ = 0.4 is not represented; feature 1 at 0.4 makes no superposition (0.16 < 0.25)
    assert _labels([[1.0, 0.4]], [[0.4, 1.0]], [[0.6, -1.0]]) == [NR, DED, SUP]
    labels, norms, sups = A.classify_extra(torch.tensor([[1.0, -1.0]]))
    assert float(norms) == pytest.approx(1.0) and float(sups) == pytest.approx(1.0)


def test_classify_3_2_by_hand():
    extra_antipodal = [[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]]
    normals_antipodal = [[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]]
    extra_dropped = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    normal_dropped = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    assert _labels(extra_antipodal, normals_antipodal, extra_dropped, normal_dropped) == [SUP, DED, NR, DED]
    # the candidates' own networks get their candidate's label
    for cand in T.candidates(3):
        W, _ = T.candidate_network(cand, 0.3)
        assert _labels(W) == [cand.label]


def test_summarize_point_drops_the_worst_and_takes_the_majority():
    # the highest-loss model (a superposition one) is dropped: 2 dedicated vs 1 superposition
    s = A.summarize_point([0.1, 0.2, 0.3, 0.9], [SUP, DED, DED, SUP])
    assert s.kept == (0, 1, 2) and s.counts == (0, 2, 1) and s.label == DED
    # a tie goes to the label of the lowest-loss kept model among the tied labels
    s = A.summarize_point([0.3, 0.1, 0.5], [NR, SUP, DED])
    assert s.counts == (1, 0, 1) and s.label == SUP
    s = A.summarize_point([0.1, 0.3, 0.5], [NR, SUP, DED])
    assert s.counts == (1, 0, 1) and s.label == NR
    s = A.summarize_point([0.3, 0.1, 0.2, 0.9, 0.05], [NR, SUP, NR, DED, SUP])
    assert s.counts == (2, 0, 2) and s.label == SUP
    # one model: nothing is dropped
    s = A.summarize_point([0.4], [DED])
    assert s.kept == (0,) and s.counts == (0, 1, 0) and s.label == DED


def _fake_run(path: Path, cfg, extra_label_of, worst_at=None) -> dict:
    """Store a run of ``cfg`` with hand-built weights: at each setting every model is the theory's best
    candidate network (label from ``extra_label_of``), except restart 0, which gets a distinct network with
    the highest loss. Returns {setting: (r, p)}."""
    n, m, k = cfg.n_features, cfg.n_hidden, cfg.restarts
    W = torch.zeros(cfg.n_instances, m, n)
    b = torch.zeros(cfg.n_instances, n)
    loss = torch.zeros(cfg.n_instances)
    points = {}
    by_label = {c.label: c for c in reversed(T.candidates(n))}
    for s in range(cfg.n_settings):
        r, p = cfg.importance[s][-1], cfg.density[s][0]
        points[s] = (r, p)
        label = extra_label_of(r, p)
        cand = by_label[label]
        Wc, bc = T.candidate_network(cand, p, cfg.model, n_hidden=m)
        for j in range(k):
            i = s * k + j
            W[i] = torch.tensor(Wc, dtype=torch.float32)
            b[i] = torch.tensor(bc, dtype=torch.float32)
            loss[i] = float(T.candidate_loss(cand, r, p, cfg.model)) / n * (1 + 0.01 * (j - 1))
        # restart 0: the worst model, in another configuration
        other = by_label[NR if label != NR else DED]
        Wo, bo = T.candidate_network(other, p, cfg.model, n_hidden=m)
        W[s * k] = torch.tensor(Wo, dtype=torch.float32)
        b[s * k] = torch.tensor(bo, dtype=torch.float32)
        loss[s * k] = 10.0
    result = TrainResult(params={"W": W, "b": b}, final_loss=loss, log_steps=[], log_losses=torch.empty(0, cfg.n_instances),
                         seconds=0.0, device="cpu", engine="eager")
    save_run(path, cfg, result)
    return points


def _configs(grid, models, sweep_points=15):
    cfgs = P.SPECS[0].configs(False, grid=grid, models=models)
    cfgs = {k: dataclasses.replace(v, recipe=QUICK) for k, v in cfgs.items()}
    sweep = cfgs["sweep"]
    ps = np.logspace(-1, 0, sweep_points)
    cfgs["sweep"] = dataclasses.replace(sweep, density=[[float(p)] * 2 for p in ps],
                                        importance=[sweep.importance[0]] * sweep_points)
    return cfgs


@pytest.fixture()
def fake_exp(tmp_path):
    """A fabricated phase-2-1 experiment folder: 3 x 3 grid, 3 models per point, ReLU, linear and sweep,
    analysed as the pipeline analyses it."""
    exp = tmp_path / "phase-2-1"
    cfgs = _configs(3, 3)
    for act in ("relu", "linear"):
        _fake_run(exp / act, cfgs[act], lambda r, p, act=act: int(T.theory_labels(2, r, p, act)))
    _fake_run(exp / "sweep", cfgs["sweep"], lambda r, p: int(T.theory_labels(2, r, p)))
    pipeline.analyze(all_experiments()["phase-2-1"], ExperimentFolder(exp))
    return exp


def test_phase_csv_from_fabricated_runs(fake_exp):
    with open(fake_exp / "tables" / "phase.csv", encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        assert reader.fieldnames == A.PHASE.names
    assert len(rows) == 2 * 9  # (relu, linear) x 3 x 3 grid points
    assert {r["model"] for r in rows} == {"relu", "linear"}
    for row in rows:
        r, p = float(row["relative_importance"]), float(row["density"])
        # the worst (odd one out) was dropped, so the label is the theory's, unanimously over 2 kept models
        assert row["label"] == row["theory_label"] == T.LABELS[int(T.theory_labels(2, r, p, row["model"]))]
        counts = [int(row[c]) for c in ("n_not_represented", "n_dedicated", "n_superposition")]
        assert sum(counts) == 2 and max(counts) == 2
        # loss: the lowest of the point's models, in the paper's normalisation (sum over features)
        assert float(row["loss"]) == pytest.approx(float(row["theory_loss"]), rel=1e-4, abs=1e-6)
    models = ExperimentFolder(fake_exp).read(A.PHASE_MODELS)
    sweep = [r for r in models if r["run"] == "sweep"]
    assert len(sweep) == 15 * 3 and sum(r["best"] for r in sweep) == 15
    assert len(models) == 2 * 9 * 3 + 15 * 3 and sum(r["kept"] for r in models if r["run"] != "sweep") == 2 * 9 * 2
    # the dropped (highest-loss) model of each grid point is restart 0, by construction
    assert not any(r["kept"] for r in models if r["run"] != "sweep" and r["restart"] == 0)
    kink = {r["source"]: r for r in ExperimentFolder(fake_exp).read(A.KINK)}
    assert set(kink) == {"trained", "theory", "crossing", "crossing_optimal_bias"}
    assert kink["crossing"]["switch"] == pytest.approx(4 * 0.5 / (2 + 5 * 0.5), rel=1e-3)


def test_claims_on_fabricated_runs(fake_exp):
    exp = all_experiments()["phase-2-1"]
    results = {c.id: c.check(ExperimentFolder(fake_exp), exp.name) for c in exp.claims}
    assert results["S3-1"].measured == 0 and results["S3-1"].passed
    assert results["S3-2"].measured == 1.0 and results["S3-2"].passed
    assert results["S3-4"].measured == 0 and results["S3-4"].passed
    # the sweep follows the cheapest closed form exactly: a clear kink at the crossing
    assert results["S3-3"].passed, results["S3-3"].note
    assert results["S3-3"].detail["trained"]["switch"] == pytest.approx(4 * 0.5 / (2 + 5 * 0.5), rel=0.1)


def test_claims_see_disagreement(tmp_path):
    """Superposition everywhere: S3-4 counts every linear cell, S3-1 every cell at p = 1, and S3-2 is the
    share of far-from-boundary points where the theory says superposition."""
    exp = tmp_path / "x"
    cfgs = _configs(6, 2)
    _fake_run(exp / "relu", cfgs["relu"], lambda r, p: SUP)
    _fake_run(exp / "linear", cfgs["linear"], lambda r, p: SUP)
    folder = ExperimentFolder(exp)
    A.analyze_phase(folder)
    assert C.s3_4(folder).value == 1.0
    assert C.s3_1(folder).value == 6.0
    m = C.s3_2(folder)
    rs, ps = np.logspace(-1, 1, 6), np.logspace(-2, 0, 6)
    theory = T.theory_labels(2, rs[:, None], ps[None, :])
    far = ~T.near_boundary(2, rs, ps)
    assert m.value == pytest.approx((theory[far] == SUP).mean())
    assert m.value < 1.0


def test_kink_on_closed_forms():
    """The slope-jump measure on the cheapest candidate's closed form: a clear jump; on one smooth candidate
    alone: a small one."""
    p = np.logspace(-1, 0, 41)
    d = T.theory_diagram(2, 0.5, p)
    rng = np.random.default_rng(0)
    noisy = d.best_loss + rng.normal(0, 2e-4, p.size)
    k = A.kink(p, noisy, d.labels == SUP)
    assert k["switch"] == pytest.approx(0.444, rel=0.06)
    assert k["jump"] > 0.03 and k["z"] > 10
    smooth = T.candidate_loss(T.candidates(2)[2], 0.5, p)  # the antipodal pair alone: no kink
    k2 = A.kink(p, smooth + rng.normal(0, 2e-4, p.size), d.labels == SUP)
    assert k2["jump"] < 0  # its slope only grows with p
    assert math.isnan(A.kink(p, noisy, np.zeros(p.size, bool))["jump"])


def test_experiment_parameters_and_seed_offset():
    exp = all_experiments()["phase-3-2"]
    runs = exp.run_configs(False, Overrides(params=(("grid", 4), ("models", 2))))
    assert set(runs) == {"relu", "linear", "sweep"}
    assert runs["relu"].n_settings == 16 and runs["relu"].restarts == 2
    assert runs["relu"].n_features == 3 and runs["relu"].n_hidden == 2
    assert runs["linear"].model == "linear"
    r = sorted({row[-1] for row in runs["relu"].importance})
    p = sorted({row[0] for row in runs["relu"].density})
    assert r[0] == pytest.approx(0.1) and r[-1] == pytest.approx(10) and p[0] == pytest.approx(0.01) and p[-1] == 1
    quick = exp.run_configs(True)
    assert quick["relu"].n_settings == P.QUICK_GRID**2 and quick["relu"].restarts == P.QUICK_MODELS
    assert {c.id for c in exp.claims} == {"S3-1", "S3-2", "S3-3", "S3-4"}
    # the sweep keeps its seed one above the grid's under --seed: the two never share random draws
    for seed in (None, 0, 3):
        runs = exp.run_configs(False, Overrides(seed=seed))
        assert runs["sweep"].seed == runs["relu"].seed + 1 == runs["linear"].seed + 1 == (seed or 0) + 1
    with pytest.raises(ConfigError, match="experiment phase-3-2 takes no parameter 'depth'; it takes grid, models"):
        exp.run_configs(False, Overrides(params=(("depth", 2),)))


def test_figures_from_fabricated_runs(fake_exp):
    paths = pipeline.draw(all_experiments()["phase-2-1"], ExperimentFolder(fake_exp))
    names = sorted(p.name for p in paths)
    assert names == sorted(f"{n}.{ext}" for n in ("phase_relu", "phase_linear", "loss_sweep") for ext in ("png", "svg"))
    assert all(p.stat().st_size > 1000 for p in paths)
