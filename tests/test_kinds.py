"""The names of each kind stand in one registry (tms.kinds): what implements a kind covers exactly its names, and
config, the command line, the report and the figures all read the same entries."""

import pytest

from tms import config, kinds
from tms.errors import ConfigError


def test_each_implementation_covers_exactly_its_names():
    from tms.data import DISTRIBUTIONS
    from tms.engines import ENGINES
    from tms.model import FAMILIES

    assert set(FAMILIES) == set(kinds.MODELS)
    assert set(DISTRIBUTIONS) == set(kinds.DATA)
    from tms.losses import LOSS_FUNCTIONS
    assert set(LOSS_FUNCTIONS) == set(kinds.LOSSES) and kinds.TARGETED_DATA <= set(kinds.DATA)
    assert set(ENGINES) | {kinds.AUTO_ENGINE} == set(kinds.ENGINES) and kinds.AUTO_ENGINE not in ENGINES
    for engine in ENGINES.values():  # what an engine says it trains are registered names
        assert set(engine.models or ()) <= set(kinds.MODELS) and set(engine.data or ()) <= set(kinds.DATA)
    for registry in (FAMILIES, DISTRIBUTIONS, ENGINES):
        for name, impl in registry.items():
            assert impl.name == name and impl.entry is not None


def test_config_re_exports_the_same_registries():
    # one object per kind: code that reads config.MODELS and code that reads kinds.MODELS see the same entries
    for name in ("MODELS", "DATA", "CORRELATIONS", "INITS", "OPTIMIZERS", "ENGINES", "SCHEDULES", "LOSSES"):
        assert getattr(config, name) is getattr(kinds, name)


def test_every_getter_refuses_an_unknown_name_in_one_line():
    from tms.data import get_distribution
    from tms.engines import get_engine
    from tms.model import get_family, init_weights

    with pytest.raises(ConfigError, match=r"^model must be one of relu, linear, hidden-relu, untied-abs, got 'tanh'$"):
        get_family("tanh")
    with pytest.raises(ConfigError, match=r"^data must be one of independent, sets, signed, alt, got 'gaussian'$"):
        get_distribution("gaussian")
    with pytest.raises(ConfigError, match=r"^engine must be one of auto, fast, eager, sparse, got 'jit'$"):
        get_engine("jit")
    with pytest.raises(ConfigError, match=r"^init must be one of paper, per_model, scaling, normal, got 'zeros'$"):
        init_weights(1, 2, 3, "zeros")


def test_a_kind_is_a_read_only_mapping_of_entries():
    models = kinds.MODELS
    assert list(models) == ["relu", "linear", "hidden-relu", "untied-abs"] and len(models) == 4
    assert models["relu"] == kinds.Entry("relu", "ReLU output", models["relu"].description)
    assert "relu" in models and "tanh" not in models and ["relu"] not in models  # unhashable: not a name
    assert models.label("linear") == "Linear" and models.label("from-a-newer-version") == "from-a-newer-version"
    assert models.check("linear") == "linear"
    with pytest.raises(ConfigError, match=r"^feature_sets\[0\]\.kind must be one of correlated, anticorrelated"):
        kinds.CORRELATIONS.check("bunched", "feature_sets[0].kind")
    assert kinds.OPTIMIZERS.help(default="adamw").startswith("adamw (default): AdamW")
    assert kinds.DATA.help(names=["signed"]).startswith("signed: ")
    with pytest.raises(ValueError, match="twice"):
        kinds.Kind("x", (kinds.Entry("a", "a", ""), kinds.Entry("a", "b", "")))
