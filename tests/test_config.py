"""Config validation names the field and what is allowed; configs round-trip through JSON."""

import json

import pytest

from tms.config import FeatureSet, Recipe, RunConfig
from tms.errors import ConfigError


def test_uniform_builds_settings_and_importance_decay():
    cfg = RunConfig.uniform(4, 2, [1.0, 0.1], importance_decay=0.5, restarts=3)
    assert cfg.n_settings == 2 and cfg.n_instances == 6
    assert cfg.importance[0] == (1.0, 0.5, 0.25, 0.125)
    assert cfg.instance_density()[2] == (1.0,) * 4 and cfg.instance_density()[3] == (0.1,) * 4


def test_json_round_trip_is_exact():
    cfg = RunConfig.uniform(5, 2, [1.0, 0.05], 0.9, model="linear", restarts=2, seed=11,
                            recipe=Recipe(steps=17, lr=3e-3, init="per_model"))
    again = RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


@pytest.mark.parametrize("kwargs,match", [
    (dict(n_features=0), "features must be an integer >= 1"),
    (dict(n_hidden=0), "hidden must be an integer >= 1"),
    (dict(density=((1.5, 1.0),)), r"density must be in \(0, 1\]"),
    (dict(density=((0.0, 1.0),)), r"density must be in \(0, 1\]"),
    (dict(density=((float("nan"), 1.0),)), r"density must be in \(0, 1\]"),
    (dict(importance=((-1.0, 1.0),)), "importance must be in"),
    (dict(density=((1.0,),)), r"density\[0\] must have one value per feature \(2\)"),
    (dict(model="tanh"), "model must be one of relu, linear"),
    (dict(data="gaussian"), "data must be one of independent"),
    (dict(restarts=0), "restarts must be an integer >= 1"),
])
def test_invalid_fields_are_named(kwargs, match):
    base = dict(n_features=2, n_hidden=1, density=((1.0, 1.0),), importance=((1.0, 1.0),))
    base.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        RunConfig(**base)


@pytest.mark.parametrize("kwargs,match", [
    (dict(steps=0), "steps must be an integer >= 1"),
    (dict(batch_size=-3), "batch_size"),
    (dict(lr=0.0), r"lr must be in \(0, 10\]"),
    (dict(init="zeros"), "init must be one of paper, per_model"),
    (dict(betas=(0.9, 1.0)), r"betas\[1\] must be in \[0, 1\)"),
])
def test_invalid_recipe_fields_are_named(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Recipe(**kwargs)


def test_from_dict_rejects_unknown_and_missing_fields():
    d = RunConfig.uniform(2, 1, [1.0]).to_dict()
    with pytest.raises(ConfigError, match="unknown config field"):
        RunConfig.from_dict(dict(d, colour="red"))
    d.pop("n_hidden")
    with pytest.raises(ConfigError, match="incomplete"):
        RunConfig.from_dict(d)


def test_training_key_leaves_out_logging_and_evaluation():
    base = RunConfig.uniform(3, 2, [1.0, 0.1], restarts=2)
    relog = RunConfig.uniform(3, 2, [1.0, 0.1], restarts=2, recipe=Recipe(log_every=7, eval_batches=3))
    other = RunConfig.uniform(3, 2, [1.0, 0.1], restarts=2, recipe=Recipe(lr=2e-3))
    assert base != relog and base.training_key() == relog.training_key()
    assert base.training_key() != other.training_key()
    assert "log_every" not in base.training_key()["recipe"] and base.training_key()["recipe"]["lr"] == 1e-3


def test_format_1_configs_still_load():
    d = RunConfig.uniform(3, 2, [1.0], model="linear").to_dict()
    d["activation"] = d.pop("model")
    del d["data"]
    assert RunConfig.from_dict(d) == RunConfig.uniform(3, 2, [1.0], model="linear")


def test_overrides_keep_each_runs_seed_offset():
    from tms.config import Overrides

    grid = RunConfig.uniform(2, 1, [1.0], seed=0)
    sweep = RunConfig.uniform(2, 1, [1.0], seed=1)  # declared one above the base seed 0
    o = Overrides(seed=5, recipe=(("lr", 0.01), ("steps", 7)))
    assert (o.apply(grid).seed, o.apply(sweep).seed) == (5, 6)
    assert o.apply(grid).recipe == Recipe(lr=0.01, steps=7)
    assert Overrides().apply(sweep) == sweep and Overrides().empty and not o.empty
    assert Overrides(recipe=(("steps", 3), ("lr", 0.5))) == Overrides(recipe=(("lr", 0.5), ("steps", 3)))
    with pytest.raises(ConfigError, match="unknown recipe field"):
        Overrides(recipe=(("learning_rate", 0.1),))
    with pytest.raises(ConfigError, match="lr must be in"):
        Overrides(recipe=(("lr", -1.0),))
    with pytest.raises(ConfigError, match="seed must be an integer >= 0"):
        Overrides(seed=-1)


def test_quick_recipe_keeps_everything_but_the_length():
    r = Recipe(lr=0.07, init="per_model", batch_size=1024).quick()
    assert (r.steps, r.batch_size, r.lr, r.init) == (300, 256, 0.07, "per_model")
    assert Recipe(batch_size=64).quick().batch_size == 64


def _sets_config(sets, density=0.1, n=6, data="sets"):
    return RunConfig(n_features=n, n_hidden=2, density=[[density] * n], importance=[[1.0] * n], data=data,
                     feature_sets=sets)


def test_feature_sets_round_trip_and_forms():
    cfg = _sets_config([{"kind": "correlated", "features": [0, 1]}, "anticorrelated:4,2"])
    assert cfg.feature_sets == (FeatureSet("correlated", (0, 1)), FeatureSet("anticorrelated", (4, 2)))
    back = RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg and back.training_key() == cfg.training_key()
    # a run of independent features writes no feature_sets field (run folders from before sets load the same)
    assert "feature_sets" not in RunConfig.uniform(4, 2, [0.1]).to_dict()


@pytest.mark.parametrize("sets,kwargs,match", [
    (["correlated:0,1,0"], {}, r"feature_sets\[0\].features names feature 0 twice"),
    (["correlated:0,1", "anticorrelated:2,1"], {}, r"names feature 1 in feature_sets\[0\] too"),
    (["correlated:0,6"], {}, r"must be in \[0, 5\] \(n = 6 features\), got 6"),
    (["correlated:-1,2"], {}, r"must be in \[0, 5\]"),
    ([{"kind": "correlated", "features": []}], {}, "must name at least 2 features, got 0"),
    (["correlated:3"], {}, "must name at least 2 features, got 1"),
    ([{"kind": "sideways", "features": [0, 1]}], {}, "kind must be one of correlated, anticorrelated, got 'sideways'"),
    ([{"kind": "correlated", "features": [0, 1], "strength": 1}], {}, "exactly the fields kind and features"),
    ([{"kind": "correlated", "features": [0, 1.5]}], {}, "integer feature indices"),
    (["anticorrelated:0,1,2"], {"density": 0.4}, "must sum to at most 1 over the anticorrelated set"),
    ([], {}, "must name at least one set when data is 'sets'"),
    (["correlated:0,1"], {"data": "independent"}, "feature_sets need data 'sets'"),
    ("correlated:0,1", {}, "feature_sets must be a list of sets"),
])
def test_bad_feature_sets_are_named(sets, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        _sets_config(sets, **kwargs)


def test_a_correlated_set_shares_one_density():
    with pytest.raises(ConfigError, match=r"density\[0\] must be equal over the correlated set"):
        RunConfig(n_features=3, n_hidden=2, density=[[0.1, 0.2, 0.1]], importance=[[1.0] * 3], data="sets",
                  feature_sets=["correlated:0,1"])


def test_optimizer_is_a_recipe_field_written_only_when_not_the_papers():
    from tms.config import Overrides, Recipe, RunConfig

    paper = RunConfig.uniform(3, 2, [0.1])
    assert "optimizer" not in paper.to_dict()["recipe"]  # a run of the paper's AdamW is written as before
    sgd = RunConfig.uniform(3, 2, [0.1], recipe=Recipe(optimizer="sgd", momentum=0.5))
    d = sgd.to_dict()
    assert d["recipe"]["optimizer"] == "sgd" and d["recipe"]["momentum"] == 0.5
    assert RunConfig.from_dict(d) == sgd and sgd.training_key() != paper.training_key()
    for bad, match in [({"optimizer": "rmsprop"}, "optimizer must be one of adamw, adam, sgd"),
                       ({"momentum": 1.0}, r"momentum must be in \[0, 1\)"),
                       ({"momentum": -0.5}, r"momentum must be in \[0, 1\)")]:
        with pytest.raises(ConfigError, match=match):
            Recipe(**bad)
    # lr_scale multiplies each run's own learning rate, after any recipe field
    scaled = Overrides(lr_scale=3.0, recipe=(("lr", 0.01),)).apply(paper)
    assert scaled.recipe.lr == pytest.approx(0.03)
    assert Overrides(lr_scale=0.5).apply(RunConfig.uniform(2, 1, [0.1], recipe=Recipe(lr=0.07))).recipe.lr == 0.035
    with pytest.raises(ConfigError, match="lr_scale"):
        Overrides(lr_scale=0.0)
