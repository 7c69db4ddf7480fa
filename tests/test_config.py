"""Config validation names the field and what is allowed; configs round-trip through JSON."""

import json

import pytest

from tms.config import Recipe, RunConfig
from tms.errors import ConfigError


def test_uniform_builds_settings_and_importance_decay():
    cfg = RunConfig.uniform(4, 2, [1.0, 0.1], importance_decay=0.5, restarts=3)
    assert cfg.n_settings == 2 and cfg.n_instances == 6
    assert cfg.importance[0] == (1.0, 0.5, 0.25, 0.125)
    assert cfg.instance_density()[2] == (1.0,) * 4 and cfg.instance_density()[3] == (0.1,) * 4


def test_json_round_trip_is_exact():
    cfg = RunConfig.uniform(5, 2, [1.0, 0.05], 0.9, activation="linear", restarts=2, seed=11,
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
    (dict(activation="tanh"), "activation must be one of relu, linear"),
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
