"""Results that know what they are: tms.train's and tms.load_run's results select their models by name, keep
each setting's lowest-loss restart, and measure them with tms.metrics, the same numbers the analysis writes."""

import sys

import pytest
import torch

import tms
from tms import metrics
from tms.analysis.models import feature_rows
from tms.config import Recipe, RunConfig
from tms.errors import ConfigError
from tms.results import Selection
from tms.runs import load_run, save_run
from tms.train import TrainResult


def fake_result(cfg, seed=0, config=True):
    g = torch.Generator().manual_seed(seed)
    inst = cfg.n_instances
    return TrainResult(
        params={"W": torch.randn(inst, cfg.n_hidden, cfg.n_features, generator=g),
                "b": torch.randn(inst, cfg.n_features, generator=g) * 0.1},
        final_loss=torch.rand(inst, generator=g), log_steps=[1], log_losses=torch.rand(1, inst, generator=g),
        seconds=0.0, device="cpu", engine="eager", config=cfg if config else None,
    )


@pytest.fixture
def cfg():
    # settings: density 1, 0.1, 0.05 at I_i = 0.9^i; three restarts each: instance = setting * 3 + restart
    return RunConfig.uniform(5, 2, [1.0, 0.1, 0.05], 0.9, restarts=3, recipe=Recipe(steps=10, log_every=5))


def two_decays() -> RunConfig:
    """Settings (density, decay): (1, 0.9), (0.05, 0.9), (1, 0.5), (0.05, 0.5); two restarts each."""
    rows = [(p, d) for d in (0.9, 0.5) for p in (1.0, 0.05)]
    return RunConfig(n_features=4, n_hidden=2, density=[[p] * 4 for p, _ in rows],
                     importance=[[d ** i for i in range(4)] for _, d in rows], restarts=2)


def test_labels_name_every_model(cfg):
    res = fake_result(cfg)
    labels = res.labels
    assert len(labels) == 9
    assert labels[4] == {"density": 0.1, "importance_decay": 0.9, "setting": 1, "restart": 1, "instance": 4}
    assert res.axes == {"density": [0.05, 0.1, 1.0], "importance_decay": [0.9], "setting": [0, 1, 2],
                        "restart": [0, 1, 2], "instance": list(range(9))}
    assert res.index == list(range(9)) and res.n_instances == 9
    assert torch.equal(res.loss, res.final_loss)
    assert res.importance.shape == (9, 5) and res.importance[0, 1].item() == pytest.approx(0.9)


def test_sel_returns_the_right_instances(cfg):
    res = fake_result(cfg)
    sparse = res.sel(density=0.05)
    assert isinstance(sparse, Selection)
    assert sparse.index == [6, 7, 8]
    assert torch.equal(sparse.W, res.W[6:9]) and torch.equal(sparse.b, res.b[6:9])
    assert torch.equal(sparse.loss, res.final_loss[6:9])
    assert sparse.config is cfg
    # the selection keeps the names, and selects again
    assert sparse.axes["density"] == [0.05] and [label["restart"] for label in sparse.labels] == [0, 1, 2]
    assert sparse.sel(restart=2).index == [8]
    assert res.sel(restart=0).index == [0, 3, 6]
    assert res.sel(density=[1.0, 0.05], restart=1).index == [1, 7]
    assert res.sel(setting=1, instance=5).index == [5]
    # numbers match after rounding to 6 significant digits, never the nearest value
    assert res.sel(density=0.0500000001).index == [6, 7, 8]
    assert res.sel(importance_decay=0.9).index == list(range(9))


def test_sel_by_density_and_decay():
    cfg = two_decays()
    res = fake_result(cfg)
    assert res.axes["importance_decay"] == [0.5, 0.9]
    assert res.sel(density=0.05, importance_decay=0.9).index == [2, 3]
    assert res.sel(importance_decay=0.5, restart=0).index == [4, 6]
    # importances that are no geometric series have no decay
    flat = RunConfig(n_features=3, n_hidden=2, density=[[1.0] * 3], importance=[[1.0, 0.2, 0.7]])
    assert fake_result(flat).labels[0]["importance_decay"] is None
    with pytest.raises(ConfigError, match="unknown name 'importance_decay'"):
        fake_result(flat).sel(importance_decay=0.2)


def test_bad_selection_is_one_line_naming_the_field_and_the_values(cfg):
    res = fake_result(cfg)
    with pytest.raises(ConfigError) as e:
        res.sel(density=0.3)
    assert str(e.value) == ("sel: density=0.3 is not in this result; density is one of 0.05, 0.1, 1 (numbers match "
                            "to 6 significant digits)")
    with pytest.raises(ConfigError) as e:
        res.sel(sparsity=0.95)
    assert str(e.value) == ("sel: unknown name 'sparsity'; the names here are density, importance_decay, setting, "
                            "restart, instance")
    with pytest.raises(ConfigError, match="restart=5 is not in this result; restart is one of 0, 1, 2"):
        res.sel(restart=5)
    with pytest.raises(ConfigError, match="no model has density=1.0, instance=8 together"):
        res.sel(density=1.0, instance=8)


def test_a_result_without_its_config_says_so(cfg):
    with pytest.raises(ConfigError, match="no config"):
        fake_result(cfg, config=False).sel(restart=0)


def test_best_is_the_lowest_loss_restart_and_equals_the_stored_runs(tmp_path, cfg):
    res = fake_result(cfg)
    loss = res.final_loss.tolist()
    expected = [min(range(3 * s, 3 * s + 3), key=lambda i: loss[i]) for s in range(3)]
    assert res.best().index == expected
    save_run(tmp_path / "run", cfg, res)
    run = tms.load_run(tmp_path / "run")
    assert run.best().index == run.best_instances() == expected
    assert torch.equal(run.best().W, run.W[expected])
    assert res.sel(density=0.05).best().index == [expected[2]]
    # a stored run and a fresh result are the same kind of object
    assert isinstance(run, tms.Results) and isinstance(res, tms.Results)
    assert run.labels == res.labels and torch.equal(run.final_loss, run.loss)


def test_best_of_a_trained_run_after_save_and_load(tmp_path):
    cfg = RunConfig.uniform(4, 2, [1.0, 0.1], 0.8, restarts=3, recipe=Recipe(steps=30, batch_size=64))
    res = tms.train(cfg, device="cpu", threads=1)
    assert res.config is cfg
    save_run(tmp_path / "run", cfg, res)
    run = load_run(tmp_path / "run")
    assert res.best().index == run.best().index == run.best_instances()


def test_measures_equal_tms_metrics_on_the_same_W(cfg):
    res = fake_result(cfg)
    W = res.W
    assert torch.equal(res.norms(), metrics.feature_norms(W))
    assert torch.equal(res.superposition(), metrics.superposition(W))
    assert torch.equal(res.dimensionality(), metrics.feature_dimensionality(W))
    assert torch.equal(res.interference(), metrics.overlaps(W))
    assert torch.equal(res.gram(), metrics.gram(W))
    assert torch.equal(res.dims_per_feature(), metrics.dimensions_per_feature(W.double()))
    sel = res.sel(density=0.1)
    assert torch.equal(sel.dimensionality(), metrics.feature_dimensionality(W[3:6]))


def test_table_holds_the_rows_the_analysis_writes(tmp_path, cfg):
    save_run(tmp_path / "run", cfg, fake_result(cfg))
    run = load_run(tmp_path / "run")
    table = run.table()
    written = feature_rows("", run)
    assert len(table) == len(written) == 9 * 5
    for ours, theirs in zip(table, written):
        assert {k: v for k, v in ours.items() if k in theirs} == {k: v for k, v in theirs.items() if k != "run"}
    assert table[7]["setting"] == 0 and table[7]["restart"] == 1 and table[7]["feature"] == 2
    summary = run.sel(restart=0).summary()
    assert [r["instance"] for r in summary] == [0, 3, 6]
    assert summary[2]["n_represented"] == sum(r["represented"] for r in table if r["instance"] == 6)
    assert summary[2]["paper_loss"] == pytest.approx(5 * summary[2]["loss"])


def test_paper_loss_is_n_times_ours(cfg):
    res = fake_result(cfg)
    assert torch.allclose(res.paper_loss(), res.final_loss * 5)
    assert metrics.paper_loss(0.01, 5) == pytest.approx(0.05)
    assert torch.equal(metrics.paper_loss(torch.tensor([0.5, 1.0]), 4), torch.tensor([2.0, 4.0]))
    with pytest.raises(ValueError):
        metrics.paper_loss(0.01, 0)


def test_to_pandas_or_a_one_line_import_error(monkeypatch, cfg):
    res = fake_result(cfg)
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    with pytest.raises(ImportError) as e:
        res.to_pandas()
    assert "pip install pandas" in str(e.value) and "\n" not in str(e.value)
    monkeypatch.undo()
    pd = pytest.importorskip("pandas")
    frame = res.to_pandas()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 45
    assert len(res.to_pandas(per="model")) == 9


def test_selections_of_several_runs(cfg):
    from tms.results import Block

    a, b = fake_result(cfg, 0), fake_result(cfg, 1)
    both = Selection((Block.whole(cfg, a.params, a.final_loss, [("lr", 0.001)]),
                      Block.whole(cfg, b.params, b.final_loss, [("lr", 0.01)])))
    assert both.n_instances == 18 and both.axes["lr"] == [0.001, 0.01]
    assert torch.equal(both.sel(lr=0.01, density=0.05).W, b.W[6:9])
    assert len(both.best().index) == 6
    with pytest.raises(ConfigError, match="come from 2 runs; select one run first with lr"):
        both.config
    assert both.sel(lr=0.001).config is cfg
    assert "lr" in repr(both)


def test_the_package_root_names_metrics():
    assert "metrics" in tms.__all__ and tms.metrics is metrics
    for name in ("Results", "Selection", "sweep", "plot", "Runtime"):
        assert name in tms.__all__
    assert tms.runtime.Runtime is tms.Runtime  # runtime=tms.runtime.Runtime(...) after a bare import tms
