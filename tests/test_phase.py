"""§3 phase experiments: classification of the extra feature, the drop-the-worst majority, phase.csv from a
fabricated run folder, the claims' measures, and (slow) the default diagrams against S3-1…S3-4."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tms import theory as T
from tms.experiments import all_experiments
from tms.experiments import phase as P
from tms.runs import save_run
from tms.train import TrainResult

NR, DED, SUP = T.NOT_REPRESENTED, T.DEDICATED, T.SUPERPOSITION


def _labels(*Ws) -> list[int]:
    W = torch.tensor(np.array(Ws), dtype=torch.float32)
    return P.classify_extra(W)[0].tolist()


def test_classify_2_1_by_hand():
    assert _labels([[1.0, -1.0]], [[0.0, 1.0]], [[1.0, 0.0]]) == [SUP, DED, NR]
    # thresholds: ‖W_2‖ = 0.4 is not represented; feature 1 at 0.4 makes no superposition (0.16 < 0.25)
    assert _labels([[1.0, 0.4]], [[0.4, 1.0]], [[0.6, -1.0]]) == [NR, DED, SUP]
    labels, norms, sups = P.classify_extra(torch.tensor([[1.0, -1.0]]))
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
    s = P.summarize_point([0.1, 0.2, 0.3, 0.9], [SUP, DED, DED, SUP])
    assert s.kept == (0, 1, 2) and s.counts == (0, 2, 1) and s.label == DED
    # a tie goes to the label of the lowest-loss kept model among the tied labels
    s = P.summarize_point([0.3, 0.1, 0.5], [NR, SUP, DED])
    assert s.counts == (1, 0, 1) and s.label == SUP
    s = P.summarize_point([0.1, 0.3, 0.5], [NR, SUP, DED])
    assert s.counts == (1, 0, 1) and s.label == NR
    s = P.summarize_point([0.3, 0.1, 0.2, 0.9, 0.05], [NR, SUP, NR, DED, SUP])
    assert s.counts == (2, 0, 2) and s.label == SUP
    # one model: nothing is dropped
    s = P.summarize_point([0.4], [DED])
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
        Wc, bc = T.candidate_network(cand, p, cfg.activation, n_hidden=m)
        for j in range(k):
            i = s * k + j
            W[i] = torch.tensor(Wc, dtype=torch.float32)
            b[i] = torch.tensor(bc, dtype=torch.float32)
            loss[i] = float(T.candidate_loss(cand, r, p, cfg.activation)) / n * (1 + 0.01 * (j - 1))
        # restart 0: the worst model, in another configuration
        other = by_label[NR if label != NR else DED]
        Wo, bo = T.candidate_network(other, p, cfg.activation, n_hidden=m)
        W[s * k] = torch.tensor(Wo, dtype=torch.float32)
        b[s * k] = torch.tensor(bo, dtype=torch.float32)
        loss[s * k] = 10.0
    result = TrainResult(W=W, b=b, final_loss=loss, log_steps=[], log_losses=torch.empty(0, cfg.n_instances),
                         seconds=0.0, device="cpu", engine="eager")
    save_run(path, cfg, result)
    return points


@pytest.fixture()
def fake_exp(tmp_path):
    """A fabricated phase-2-1 experiment folder: 3 x 3 grid, 3 models per point, ReLU, linear and sweep."""
    spec = P.SPECS[0]
    exp = tmp_path / "phase-2-1"
    for act in P.MODEL_TYPES:
        cfg = P.grid_config(spec, act, 3, 3, P.QUICK_RECIPE)
        _fake_run(exp / act, cfg, lambda r, p, act=act: int(T.theory_labels(2, r, p, act)))
    sweep = P.sweep_config(spec, 15, 3, P.QUICK_RECIPE)
    _fake_run(exp / "sweep", sweep, lambda r, p: int(T.theory_labels(2, r, p)))
    return exp


def test_phase_csv_from_fabricated_runs(fake_exp):
    P.analyze(fake_exp)
    with open(fake_exp / "phase.csv", encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        assert tuple(reader.fieldnames) == P.PHASE_COLUMNS
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
    sweep = P.read_csv(fake_exp / "sweep.csv")
    assert len(sweep) == 15 * 3 and sum(r["best"] for r in sweep) == 15


def test_claims_on_fabricated_runs(fake_exp):
    P.analyze(fake_exp)
    exp = P.make_phase_experiments(grid=3, models=3)[0]
    results = {c.id: c.check(fake_exp, exp.name) for c in exp.claims}
    assert results["S3-1"].measured == 0 and results["S3-1"].passed
    assert results["S3-2"].measured == 1.0 and results["S3-2"].passed
    assert results["S3-4"].measured == 0 and results["S3-4"].passed
    # the sweep follows the cheapest closed form exactly: a clear kink at the crossing
    assert results["S3-3"].passed, results["S3-3"].note
    assert results["S3-3"].detail["trained"]["switch"] == pytest.approx(4 * 0.5 / (2 + 5 * 0.5), rel=0.1)


def test_claims_see_disagreement(tmp_path):
    """Superposition everywhere: S3-4 counts every linear cell, S3-1 every cell at p = 1, and S3-2 is the
    share of far-from-boundary points where the theory says superposition."""
    spec = P.SPECS[0]
    exp = tmp_path / "x"
    _fake_run(exp / "relu", P.grid_config(spec, "relu", 6, 2, P.QUICK_RECIPE), lambda r, p: SUP)
    _fake_run(exp / "linear", P.grid_config(spec, "linear", 6, 2, P.QUICK_RECIPE), lambda r, p: SUP)
    P.analyze(exp)
    assert P.s3_4(exp).value == 1.0
    assert P.s3_1(exp).value == 6.0
    m = P.s3_2(exp)
    theory = T.theory_labels(2, P.grid_values(6)[0][:, None], P.grid_values(6)[1][None, :])
    far = ~T.near_boundary(2, *P.grid_values(6))
    assert m.value == pytest.approx((theory[far] == SUP).mean())
    assert m.value < 1.0


def test_kink_on_closed_forms():
    """The slope-jump measure on the cheapest candidate's closed form: a clear jump; on one smooth candidate
    alone: a small one."""
    p = np.logspace(-1, 0, 41)
    d = T.theory_diagram(2, 0.5, p)
    rng = np.random.default_rng(0)
    noisy = d.best_loss + rng.normal(0, 2e-4, p.size)
    k = P.kink(p, noisy, d.labels == SUP)
    assert k["switch"] == pytest.approx(0.444, rel=0.06)
    assert k["jump"] > 0.03 and k["z"] > 10
    smooth = T.candidate_loss(T.candidates(2)[2], 0.5, p)  # the antipodal pair alone: no kink
    k2 = P.kink(p, smooth + rng.normal(0, 2e-4, p.size), d.labels == SUP)
    assert k2["jump"] < 0  # its slope only grows with p
    assert math.isnan(P.kink(p, noisy, np.zeros(p.size, bool))["jump"])


def test_experiment_factory():
    exps = P.make_phase_experiments(grid=4, models=2)
    assert [e.name for e in exps] == ["phase-2-1", "phase-3-2"]
    runs = exps[1].runs(False)
    assert set(runs) == {"relu", "linear", "sweep"}
    assert runs["relu"].n_settings == 16 and runs["relu"].restarts == 2
    assert runs["relu"].n_features == 3 and runs["relu"].n_hidden == 2
    assert runs["linear"].activation == "linear"
    r, p = P.grid_values(4)
    assert r[0] == pytest.approx(0.1) and r[-1] == pytest.approx(10) and p[0] == pytest.approx(0.01) and p[-1] == 1
    quick = exps[0].runs(True)
    assert quick["relu"].n_settings == P.QUICK_GRID**2 and quick["relu"].restarts == P.QUICK_MODELS
    assert {c.id for c in exps[0].claims} == {"S3-1", "S3-2", "S3-3", "S3-4"}
    registry = all_experiments()
    assert "phase-2-1" in registry and "phase-3-2" in registry


def test_figures_from_fabricated_runs(fake_exp):
    P.analyze(fake_exp)
    paths = P.figures(fake_exp)
    names = sorted(p.name for p in paths)
    assert names == sorted(f"{n}.{ext}" for n in ("phase_relu", "phase_linear", "loss_sweep") for ext in ("png", "svg"))
    assert all(p.stat().st_size > 1000 for p in paths)


@pytest.mark.slow
def test_default_diagrams_hold_the_claims(tmp_path):
    """Trains both default diagrams (20 x 20 grid, 10 models per point, ReLU and linear) and checks S3-1…S3-4."""
    from tms.reproduce import reproduce

    claims = reproduce(["phase-2-1", "phase-3-2"], tmp_path, report=False)
    failed = [f"{c['experiment']} {c['id']}: {c['measured']} ({c['note'][:300]})" for c in claims if not c["passed"]]
    assert not failed, "\n".join(failed)
