"""§4 correlated features and §5 learning dynamics: the measures on hand-made weights, the claims on fabricated
run folders (passing and failing), snapshots through the pipeline, ``tms plot --step``, and training on feature
sets with either engine."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tms import pipeline
from tms.sections.correlated.analysis import MODELS, POINTS, set_measures
from tms.sections.dynamics.analysis import jump, lagged_correlation, regime
from tms.analysis.folder import ExperimentFolder
from tms.sections.correlated import claims as c_claims
from tms.sections.dynamics import claims as d_claims
from tms.cli import main
from tms.config import Recipe, RunConfig
from tms.errors import RunFolderError
from tms.registry import all_experiments
from tms.runs import load_run, run_state, save_run
from tms.runtime import Runtime
from tms.train import TrainResult, train


def polar(angles_deg, norms=None):
    a = torch.tensor([math.radians(x) for x in angles_deg], dtype=torch.float64)
    r = torch.ones_like(a) if norms is None else torch.tensor(norms, dtype=torch.float64)
    return torch.stack([r * torch.cos(a), r * torch.sin(a)])


# -- measures on hand-made weights ---------------------------------------------------------------------------

def test_two_orthogonal_correlated_pairs_antipodal_across():
    # features 0,1 one pair, 2,3 the other: 0 ⟂ 1, 2 ⟂ 3, 0 = −2, 1 = −3 (the paper's figure)
    W = polar([0, 90, 180, 270])
    m = set_measures(W, [(0, 1), (2, 3)])
    assert m["n_represented"] == 4 and m["within_abs_cos"] == pytest.approx(0, abs=1e-12)
    assert m["between_abs_cos"] == pytest.approx(0.5)  # pairs across sets: |cos| 1, 0, 0, 1
    assert m["collapsed_sets"] == 0 and m["antipodal_within"] == 0.0 and m["partner_adjacent"] == 1.0


def test_antipodal_anticorrelated_pairs():
    W = polar([0, 180, 90, 270])
    m = set_measures(W, [(0, 1), (2, 3)])
    assert m["within_cos"] == pytest.approx(-1.0) and m["antipodal_within"] == 1.0


def test_hexagon_partners_side_by_side_or_across():
    side = polar([0, 60, 120, 180, 240, 300])  # pairs (0,1), (2,3), (4,5) adjacent
    assert set_measures(side, [(0, 1), (2, 3), (4, 5)])["partner_adjacent"] == 1.0
    across = polar([0, 180, 60, 240, 120, 300])  # every partner opposite: never a neighbour
    assert set_measures(across, [(0, 1), (2, 3), (4, 5)])["partner_adjacent"] == 0.0


def test_a_collapsed_pair_and_a_dropped_one():
    # pair (0,1) on one direction at 1/√2 each: collapsed; pair (2,3) with 3 dropped: not collapsed
    W = polar([30, 30, 150, 150], [0.71, 0.71, 1.0, 0.0])
    m = set_measures(W, [(0, 1), (2, 3)])
    assert m["collapsed_sets"] == 1 and m["n_represented"] == 3


def test_m_10_sets_orthogonal_inside_superposed_between():
    Q = torch.linalg.qr(torch.randn(10, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64))[0]
    R = torch.linalg.qr(torch.randn(10, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float64))[0]
    W = torch.cat([Q, R], dim=1)  # two orthonormal bases of the same 10-d space
    m = set_measures(W, [tuple(range(10)), tuple(range(10, 20))])
    assert m["within_abs_cos"] == pytest.approx(0, abs=1e-9) and m["between_abs_cos"] > 0.1
    assert m["frobenius_sq"] == pytest.approx(20) and m["partner_adjacent"] is None


# -- correlated claims on fabricated run folders ---------------------------------------------------------------

def _save(path, cfg, Ws, losses, experiment="correlated", run=""):
    W = torch.stack([w.float() for w in Ws])
    save_run(path, cfg, TrainResult(params={"W": W, "b": torch.zeros(W.shape[0], W.shape[2])},
                                    final_loss=torch.tensor(losses, dtype=torch.float32), log_steps=[],
                                    log_losses=torch.empty(0, W.shape[0]), seconds=0.0, device="cpu", engine="eager"),
             extra={"experiment": experiment, "run": run, "quick": False})


def _cfg(n, m, densities, sets, restarts):
    return RunConfig(n_features=n, n_hidden=m, density=[[p] * n for p in densities],
                     importance=[[1.0] * n for _ in densities], data="sets" if sets else "independent",
                     feature_sets=sets, restarts=restarts, recipe=Recipe(steps=1))


def correlated_folder(tmp_path, *, anti_antipodal=True, collapse=(0, 1, 2, 3), control_adjacent=False):
    root = tmp_path / "correlated"
    pairs = lambda kind, k: [f"{kind}:{2 * j},{2 * j + 1}" for j in range(k)]  # noqa: E731
    _save(root / "pairs", _cfg(4, 2, [0.05], pairs("correlated", 2), 2),
          [polar([0, 90, 180, 270]), polar([0, 30, 180, 210])], [0.1, 0.2], run="pairs")
    anti = polar([0, 180, 90, 270]) if anti_antipodal else polar([0, 90, 180, 270])
    _save(root / "anticorrelated", _cfg(4, 2, [0.05], pairs("anticorrelated", 2), 2), [anti, polar([0, 90, 180, 270])],
          [0.001, 0.002], run="anticorrelated")
    _save(root / "three", _cfg(6, 2, [0.01], pairs("correlated", 3), 1), [polar([0, 60, 120, 180, 240, 300])], [0.1],
          run="three")
    ctrl = polar([0, 60, 120, 180, 240, 300]) if control_adjacent else polar([0, 180, 60, 240, 120, 300])
    _save(root / "three-independent", _cfg(6, 2, [0.01], [], 2), [ctrl, ctrl], [0.1, 0.1], run="three-independent")
    Q = torch.linalg.qr(torch.randn(10, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64))[0]
    R = torch.linalg.qr(torch.randn(10, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float64))[0]
    _save(root / "ten", _cfg(20, 10, [0.03], [f"correlated:{','.join(map(str, range(k * 10, k * 10 + 10)))}"
                                            for k in range(2)], 1), [torch.cat([Q, R], 1)], [0.1], run="ten")
    shapes = {0: [0, 60, 120, 180, 240, 300], 1: [0, 0, 120, 180, 240, 300], 2: [0, 0, 120, 120, 240, 300],
              3: [0, 0, 120, 120, 240, 240]}
    norms = {0: [1] * 6, 1: [0.71, 0.71, 1, 1, 1, 1], 2: [0.71] * 4 + [1, 1], 3: [0.71] * 6}
    dens = [0.01, 0.05, 0.1, 0.18, 0.3][:len(collapse)]
    _save(root / "collapse", _cfg(6, 2, dens, pairs("correlated", 3), 1),
          [polar(shapes[k], norms[k]) for k in collapse], [0.1] * len(collapse), run="collapse")
    folder = ExperimentFolder(root)
    pipeline.analyze(all_experiments()["correlated"], folder)
    return ExperimentFolder(root)


def _results(folder, claims):
    return {c.id: c.check(folder) for c in claims}


def test_correlated_claims_pass_on_the_papers_shapes(tmp_path):
    folder = correlated_folder(tmp_path)
    res = _results(folder, c_claims.CLAIMS)
    assert all(r.passed for r in res.values()), {k: r.note for k, r in res.items() if not r.passed}
    assert res["S4-7"].measured == pytest.approx(0, abs=1e-6)
    assert res["S4-8"].measured == pytest.approx(-1.0)
    points = sorted(folder.read(POINTS), key=lambda p: (p["run"], p["density"]))
    assert [p["best_collapsed"] for p in points if p["run"] == "collapse"] == [0, 1, 2, 3]
    assert len([m for m in folder.read(MODELS) if m["run"] == "pairs"]) == 2


def test_correlated_claims_fail_where_the_shapes_break_them(tmp_path):
    folder = correlated_folder(tmp_path, anti_antipodal=False, collapse=(0, 2, 1, 3), control_adjacent=True)
    res = _results(folder, c_claims.CLAIMS)
    assert not res["S4-8"].passed  # anticorrelated pairs orthogonal
    assert not res["S4-9"].passed and "chance" in res["S4-9"].note  # independent features side by side too
    assert not res["S4-11"].passed  # the count falls from 2 to 1
    assert res["S4-7"].passed and res["S4-10"].passed


# -- dynamics measures ---------------------------------------------------------------------------------------

def test_a_step_is_a_narrow_jump_and_a_ramp_a_wide_one():
    steps = np.arange(0, 10_001, 50)
    step_like = np.where(steps < 2000, 0.1, 0.5)
    step_like[(steps >= 2000) & (steps < 2200)] = 0.3
    a, b = jump(step_like, steps)
    assert steps[a] == 1950 and steps[b] == 2200 and (steps[b] - steps[a]) / steps[b] == pytest.approx(250 / 2200)
    ramp = 0.1 + 0.4 * steps / steps[-1]
    a, b = jump(ramp, steps)
    assert (steps[b] - steps[a]) / steps[b] > 0.7
    assert jump(np.full(len(steps), 0.1), steps) is None  # never learned: no jump


def test_lagged_correlation_finds_the_lag():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = np.concatenate([np.zeros(2), x[:-2]]) + 0.01 * rng.normal(size=200)
    r, lag = lagged_correlation(x, y, lags=3)
    assert lag == 2 and r > 0.99


def test_regime_labels():
    assert regime(0.8, 0, 0.3, 6) == "pca"
    assert regime(0.36, 0, 0.3, 6, start=-0.38) == "pca"  # turned towards each other from where they started
    assert regime(0.7, 0, 0.3, 6, start=0.57) == "between"  # aligned, but no more than the init was
    assert regime(0.0, 6, 0.01, 6) == "octahedron"
    assert regime(0.0, 4, 0.01, 6) == "between" and regime(0.2, 6, 0.01, 6) == "between"


# -- snapshots through the pipeline and tms plot --step ----------------------------------------------------------

@pytest.fixture(scope="module")
def dynamics_quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("dyn")
    exp = all_experiments()["dynamics"]
    _, figures, results = pipeline.run_experiment(exp, out / "dynamics", quick=True, runtime=Runtime(threads=1))
    return out / "dynamics", figures, results


def test_the_dynamics_experiment_stores_snapshots_and_draws(dynamics_quick):
    folder, figures, results = dynamics_quick
    run = load_run(folder / "octahedron")
    assert run.snapshots.steps[:3] == [0, 1, 2] and run.snapshots.steps[-1] == 300
    assert torch.equal(run.snapshots.at(300)["W"], run.W)
    assert {p.name for p in figures} >= {"dynamics_dimensionality.png", "dynamics_octahedron.png"}
    assert [r.id for r in results] == ["S5-1", "S5-2", "S5-3"] and all(r.passed is None for r in results)
    assert run_state(folder / "octahedron", run.config, list(range(301))) == "complete"


def test_a_run_without_the_snapshots_asked_for_is_trained_again(tmp_path):
    cfg = RunConfig.uniform(4, 2, [0.1], recipe=Recipe(steps=10, batch_size=8))
    save_run(tmp_path / "r", cfg, train(cfg, device="cpu", snapshots=[0, 10]))
    assert run_state(tmp_path / "r", cfg, [0, 10]) == "complete" and run_state(tmp_path / "r", cfg) == "complete"
    assert run_state(tmp_path / "r", cfg, [0, 5]) == "train"


def test_plot_at_a_step_draws_the_runs_as_they_were(dynamics_quick, capsys):
    folder, _, _ = dynamics_quick
    assert main(["plot", str(folder), "--step", "150"]) == 0
    out = capsys.readouterr().out
    assert str(folder / "steps" / "150" / "figures" / "dynamics_octahedron.png") in out
    exp = ExperimentFolder(folder, step=150)
    run = exp.run("octahedron")
    assert torch.equal(run.W, load_run(folder / "octahedron").snapshots.at(150)["W"]) and run.step == 150
    assert (folder / "steps" / "150" / "tables" / "dynamics_regimes.csv").is_file()
    assert main(["plot", str(folder), "--step", "301"]) == 2
    err = capsys.readouterr().err
    assert "no snapshot at step 301" in err and len(err.strip().splitlines()) == 1
    assert not (folder / "steps" / "301").exists()


def test_plot_at_a_step_refuses_runs_without_snapshots(tmp_path, capsys):
    cfg = RunConfig.uniform(4, 2, [0.1], recipe=Recipe(steps=5, batch_size=8))
    save_run(tmp_path / "r", cfg, train(cfg, device="cpu"))
    assert main(["plot", str(tmp_path / "r"), "--step", "0"]) == 2
    assert "trained without snapshots" in capsys.readouterr().err


def test_dynamics_claims_read_the_tables(dynamics_quick):
    folder, _, _ = dynamics_quick
    res = _results(ExperimentFolder(folder), d_claims.CLAIMS)
    # 300 steps: the features have not jumped yet, the octahedron has not formed
    assert not res["S5-1"].passed and not res["S5-3"].passed
    with pytest.raises(RunFolderError, match="no snapshot at step 301"):
        ExperimentFolder(folder, step=301).run("uniform")


# -- training on feature sets -------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["eager", "fast"])
def test_sets_train_with_snapshots_that_change_no_number(engine):
    cfg = _cfg(4, 2, [0.2], ["correlated:0,1", "anticorrelated:2,3"], 2)
    cfg = RunConfig.from_dict(dict(cfg.to_dict(), recipe={"steps": 40, "batch_size": 64}))
    plain = train(cfg, engine=engine, device="cpu")
    snap = train(cfg, engine=engine, device="cpu", snapshots=[0, 20, 40])
    assert plain.engine == engine and torch.equal(plain.W, snap.W) and torch.equal(plain.b, snap.b)
    assert torch.equal(snap.snapshots["W"][-1], snap.W)


def test_auto_trains_feature_sets_with_the_fast_engine():
    cfg = _cfg(4, 2, [0.2], ["correlated:0,1"], 1)
    assert train(RunConfig.from_dict(dict(cfg.to_dict(), recipe={"steps": 5, "batch_size": 16}))).engine == "fast"
