"""Typed configs: what defines a training run, validated on construction, round-tripped to JSON.

A run trains many toy models ("instances") at once (PAPER.md §0). Each instance has its own per-feature
density p (1 - sparsity) and importance I. Several instances that share a density/importance *setting*
are restarts of that setting: small models land in local minima, so experiments train several models
per setting and report the best and how often each configuration was reached.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from .errors import ConfigError
# the names of each kind live in tms.kinds; config re-exports them (config.MODELS etc.) for code that reads them here
from .kinds import CORRELATIONS, DATA, ENGINES, INITS, MODELS, OPTIMIZERS  # noqa: F401

UNSUPPORTED_TARGETS = {
    "relu": {"signed": "its output ReLU cannot produce the negative half of the target x"},
    "hidden-relu": {"signed": "its output ReLU cannot produce the negative half of the target x"},
}
"""Pairings of a model family with a data distribution whose target the family cannot represent, and why."""


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value}")
    return value


def _check_float(name: str, value: Any, lo: float, hi: float, lo_open: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    bad = not math.isfinite(v) or v > hi or (v <= lo if lo_open else v < lo)
    if bad:
        interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}]"
        raise ConfigError(f"{name} must be in {interval}, got {value!r}")
    return v


@dataclass(frozen=True)
class Recipe:
    """How the models are optimised. Defaults are the paper recipe (PAPER.md §0).

    The loss minimised (and reported: ``final_loss``, ``instances.csv``) is the importance-weighted squared error
    *averaged* over the n features and the batch, mean_i I_i (x_i - x'_i)². The paper (and occhio) *sum* over
    the features, so their loss is n times ours (:func:`tms.metrics.paper_loss`, ``result.paper_loss()``).
    """

    steps: int = 10_000
    """Optimizer steps."""
    batch_size: int = 1024
    """Samples per step, drawn fresh every step."""
    lr: float = 1e-3
    """Learning rate, constant."""
    weight_decay: float = 0.01
    """Weight decay: AdamW's decoupled decay (PyTorch's default; the companion notebook never sets it); Adam's and
    SGD's L2 term."""
    betas: tuple[float, float] = (0.9, 0.999)
    """AdamW's and Adam's betas."""
    eps: float = 1e-8
    """AdamW's and Adam's epsilon."""
    init: str = "paper"
    """'paper': Xavier-normal on the companion notebook's instance-batched weight, which holds one instance
    per setting: std = sqrt(2 / (m (n + settings))), so the scale depends on how many settings train together
    (restarts are independent copies of that notebook run and leave it unchanged); 'per_model': Xavier-normal per model,
    std = sqrt(2 / (m + n)), independent of the batch of instances."""
    log_every: int = 100
    """Record every instance's training loss every this many steps (and at the last step). Not part of what
    a run *is* (:meth:`RunConfig.training_key`): a stored run logged at another interval is not retrained."""
    eval_batches: int = 8
    """Batches of fresh samples (batch_size each) for the final per-instance loss. Not part of what a run is
    either: a stored run evaluated on another number of batches is evaluated again, not retrained."""
    optimizer: str = "adamw"
    """One of :data:`tms.kinds.OPTIMIZERS`: 'adamw' (the paper's), 'adam' or 'sgd'."""
    momentum: float = 0.9
    """SGD's momentum (other optimizers ignore it)."""

    def __post_init__(self) -> None:
        _check_int("steps", self.steps, 1)
        _check_int("batch_size", self.batch_size, 1)
        _check_float("lr", self.lr, 0.0, 10.0, lo_open=True)
        _check_float("weight_decay", self.weight_decay, 0.0, 1.0)
        if len(self.betas) != 2:
            raise ConfigError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        for i, beta in enumerate(self.betas):
            if not 0.0 <= float(beta) < 1.0:
                raise ConfigError(f"betas[{i}] must be in [0, 1), got {beta!r}")
        object.__setattr__(self, "betas", (float(self.betas[0]), float(self.betas[1])))
        _check_float("eps", self.eps, 0.0, 1.0, lo_open=True)
        INITS.check(self.init)
        _check_int("log_every", self.log_every, 1)
        _check_int("eval_batches", self.eval_batches, 1)
        OPTIMIZERS.check(self.optimizer)
        try:
            momentum = float(self.momentum)
        except (TypeError, ValueError):
            momentum = math.nan
        if not 0.0 <= momentum < 1.0:
            raise ConfigError(f"momentum must be in [0, 1), got {self.momentum!r}")
        object.__setattr__(self, "momentum", momentum)

    def quick(self) -> "Recipe":
        """The smoke-test version of this recipe (``--quick``): 300 steps at batch ≤ 256, otherwise the same."""
        return dataclasses.replace(self, steps=300, batch_size=min(self.batch_size, 256), log_every=50,
                                   eval_batches=2)


@dataclass(frozen=True)
class FeatureSet:
    """A set of features drawn together (PAPER.md §4): ``kind`` one of :data:`tms.kinds.CORRELATIONS`, ``features``
    their indices (at least two, each in [0, n), no feature in two sets)."""

    kind: str
    features: tuple[int, ...]

    @classmethod
    def parse(cls, value: Any, where: str) -> "FeatureSet":
        """A set from a FeatureSet, a ``{"kind": ..., "features": [...]}`` object or ``"kind:i,j,..."`` text."""
        if isinstance(value, FeatureSet):
            kind, features = value.kind, value.features
        elif isinstance(value, dict):
            unknown = set(value) - {"kind", "features"}
            if unknown or "kind" not in value or "features" not in value:
                raise ConfigError(f"{where} must be an object with exactly the fields kind and features")
            kind, features = value["kind"], value["features"]
        elif isinstance(value, str) and ":" in value:
            kind, _, text = value.partition(":")
            try:
                features = [int(f) for f in text.split(",")] if text.strip() else []
            except ValueError:
                raise ConfigError(f"{where} must be KIND:i,j,... with integer features, got {value!r}") from None
        else:
            raise ConfigError(f"{where} must be {{\"kind\": ..., \"features\": [...]}} or KIND:i,j,..., got {value!r}")
        CORRELATIONS.check(kind, f"{where}.kind")
        if isinstance(features, (str, bytes)) or not hasattr(features, "__iter__"):
            raise ConfigError(f"{where}.features must be a list of feature indices, got {features!r}")
        features = tuple(features)
        if len(features) < 2:
            raise ConfigError(f"{where}.features must name at least 2 features, got {len(features)}")
        for f in features:
            if isinstance(f, bool) or not isinstance(f, int):
                raise ConfigError(f"{where}.features must be integer feature indices, got {f!r}")
        return cls(kind, features)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run: the models, the data, the recipe and the seed.

    ``density`` and ``importance`` hold one row per *setting* and one column per feature; every setting
    is trained ``restarts`` times, so the run has ``len(density) * restarts`` instances, ordered
    setting-major (instance = setting * restarts + restart); a result selects them by name instead
    (``result.sel(density=0.05, restart=0)``, :class:`tms.results.Results`).

    Losses are means over features (the paper's sums are n times larger: :class:`Recipe`,
    :func:`tms.metrics.paper_loss`).
    """

    n_features: int
    """n: number of features (input and output width)."""
    n_hidden: int
    """m: hidden dimensions (W is m x n)."""
    density: tuple[tuple[float, ...], ...]
    """Per setting, per feature: probability that the feature is non-zero, in (0, 1]."""
    importance: tuple[tuple[float, ...], ...]
    """Per setting, per feature: weight I_i of feature i in the loss, >= 0."""
    model: str = "relu"
    """Model family, one of :data:`tms.kinds.MODELS`: 'relu': x' = ReLU(WᵀW x + b); 'linear': x' = WᵀW x + b."""
    data: str = "independent"
    """Data distribution, one of :data:`tms.kinds.DATA` (the densities above are its per-feature densities)."""
    feature_sets: tuple[FeatureSet, ...] = ()
    """For data 'sets' (and only then): the correlated and anticorrelated sets (:class:`FeatureSet`); features
    in no set are independent. A correlated set's members share one density in every setting; an
    anticorrelated set's densities sum to at most 1."""
    restarts: int = 1
    """Models trained per setting (independent inits)."""
    recipe: Recipe = field(default_factory=Recipe)
    """Optimisation recipe (paper recipe by default)."""
    seed: int = 0
    """Seeds init, training data and evaluation data."""

    def __post_init__(self) -> None:
        _check_int("features", self.n_features, 1)
        _check_int("hidden", self.n_hidden, 1)
        MODELS.check(self.model)
        DATA.check(self.data)
        why = UNSUPPORTED_TARGETS.get(self.model, {}).get(self.data)
        if why:
            allowed = [d for d in DATA if d not in UNSUPPORTED_TARGETS.get(self.model, {})]
            raise ConfigError(f"data {self.data!r} does not suit model {self.model!r}: {why}; use data "
                              f"{' or '.join(allowed)}, or model linear or untied-abs (target |x|)")
        _check_int("restarts", self.restarts, 1)
        _check_int("seed", self.seed, 0)
        if not isinstance(self.recipe, Recipe):
            raise ConfigError("recipe must be a Recipe")
        object.__setattr__(self, "density", self._matrix("density", self.density, 0.0, 1.0, True))
        object.__setattr__(self, "importance", self._matrix("importance", self.importance, 0.0, math.inf, False))
        if len(self.density) != len(self.importance):
            raise ConfigError(
                f"importance must have one row per density setting ({len(self.density)}), got {len(self.importance)}"
            )
        object.__setattr__(self, "feature_sets", self._sets(self.feature_sets))

    def _sets(self, sets: Any) -> tuple[FeatureSet, ...]:
        if isinstance(sets, (str, bytes, dict)) or not hasattr(sets, "__iter__"):
            raise ConfigError("feature_sets must be a list of sets")
        out = tuple(FeatureSet.parse(s, f"feature_sets[{k}]") for k, s in enumerate(sets))
        if self.data == "sets" and not out:
            raise ConfigError("feature_sets must name at least one set when data is 'sets'")
        if self.data != "sets" and out:
            raise ConfigError(f"feature_sets need data 'sets', got data {self.data!r}")
        seen: dict[int, int] = {}
        for k, fs in enumerate(out):
            for f in fs.features:
                if not 0 <= f < self.n_features:
                    raise ConfigError(f"feature_sets[{k}].features must be in [0, {self.n_features - 1}] "
                                      f"(n = {self.n_features} features), got {f}")
                if f in seen:
                    where = "twice" if seen[f] == k else f"in feature_sets[{seen[f]}] too"
                    raise ConfigError(f"feature_sets[{k}].features names feature {f} {where}; a feature is in at "
                                      "most one set, once")
                seen[f] = k
            for s, row in enumerate(self.density):
                values = [row[f] for f in fs.features]
                if fs.kind == "correlated" and max(values) != min(values):
                    raise ConfigError(f"density[{s}] must be equal over the correlated set feature_sets[{k}] "
                                      f"(one shared draw), got {', '.join(f'{v:g}' for v in values)}")
                if fs.kind == "anticorrelated" and sum(values) > 1.0 + 1e-9:
                    raise ConfigError(f"density[{s}] must sum to at most 1 over the anticorrelated set "
                                      f"feature_sets[{k}] (one member at a time), got {sum(values):g}")
        return out

    def _matrix(self, name: str, rows: Any, lo: float, hi: float, lo_open: bool) -> tuple[tuple[float, ...], ...]:
        try:
            rows = [list(r) for r in rows]
        except TypeError:
            raise ConfigError(f"{name} must be a list of per-feature rows") from None
        if not rows:
            raise ConfigError(f"{name} must have at least one setting")
        out = []
        for s, row in enumerate(rows):
            if len(row) != self.n_features:
                raise ConfigError(f"{name}[{s}] must have one value per feature ({self.n_features}), got {len(row)}")
            out.append(tuple(_check_float(name, v, lo, hi, lo_open) for v in row))
        return tuple(out)

    # -- derived -------------------------------------------------------------------------------------
    @property
    def n_settings(self) -> int:
        return len(self.density)

    @property
    def n_instances(self) -> int:
        return self.n_settings * self.restarts

    def instance_density(self) -> list[tuple[float, ...]]:
        """Per instance, per feature density (settings repeated ``restarts`` times)."""
        return [row for row in self.density for _ in range(self.restarts)]

    def instance_importance(self) -> list[tuple[float, ...]]:
        return [row for row in self.importance for _ in range(self.restarts)]

    def training_key(self) -> dict[str, Any]:
        """What decides the trained weights: the config without how often the loss is logged and how many
        batches evaluate the final loss. Two configs with the same key train the same numbers."""
        d = self.to_dict()
        del d["recipe"]["log_every"], d["recipe"]["eval_batches"]
        return d

    # -- JSON ----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["density"] = [list(r) for r in self.density]
        d["importance"] = [list(r) for r in self.importance]
        d["recipe"]["betas"] = list(self.recipe.betas)
        if self.feature_sets:
            d["feature_sets"] = [{"kind": fs.kind, "features": list(fs.features)} for fs in self.feature_sets]
        else:  # a run of independent features is written as before sets existed
            del d["feature_sets"]
        if self.recipe.optimizer == "adamw" and self.recipe.momentum == 0.9:  # the paper's: written as before
            del d["recipe"]["optimizer"], d["recipe"]["momentum"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        if not isinstance(d, dict):
            raise ConfigError("config must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)} | {"activation"}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        kwargs = dict(d)
        if "activation" in kwargs and "model" not in kwargs:  # run folders of format 1
            kwargs["model"] = kwargs.pop("activation")
        recipe = kwargs.pop("recipe", {}) or {}
        if not isinstance(recipe, dict):
            raise ConfigError("recipe must be a JSON object")
        rknown = {f.name for f in dataclasses.fields(Recipe)}
        runknown = set(recipe) - rknown
        if runknown:
            raise ConfigError(f"unknown recipe field(s): {', '.join(sorted(runknown))}")
        if "betas" in recipe:
            recipe = dict(recipe, betas=tuple(recipe["betas"]))
        try:
            return cls(recipe=Recipe(**recipe), **kwargs)
        except TypeError as e:  # missing required field
            raise ConfigError(f"config is incomplete: {e}") from None

    @classmethod
    def uniform(
        cls,
        n_features: int,
        n_hidden: int,
        densities: Sequence[float],
        importance_decay: float = 1.0,
        **kwargs: Any,
    ) -> "RunConfig":
        """One setting per density; all features share it; I_i = decay**i (PAPER.md §0)."""
        _check_int("features", n_features, 1)
        _check_float("importance_decay", importance_decay, 0.0, math.inf, lo_open=True)
        densities = [_check_float("density", p, 0.0, 1.0, lo_open=True) for p in densities]
        if not densities:
            raise ConfigError("densities must have at least one value")
        imp = tuple(float(importance_decay) ** i for i in range(n_features))
        return cls(
            n_features=n_features,
            n_hidden=n_hidden,
            density=tuple(tuple([p] * n_features) for p in densities),
            importance=tuple(imp for _ in densities),
            **kwargs,
        )


@dataclass(frozen=True)
class Overrides:
    """Changes applied to every run of the chosen experiments, as data: ``tms reproduce --seed`` and
    ``--grid/--models``, and each variant of ``tms robustness``.

    Experiments declare every run's seed as an offset from the base seed 0 (the §3 density sweep uses 1 so that
    it does not share the grid's random draws); :meth:`apply` with ``seed=k`` gives each run ``k`` plus its
    offset, so runs that differ in seed by design still differ.
    """

    seed: int | None = None
    """Base seed, or None to keep each run's declared seed."""
    recipe: tuple[tuple[str, Any], ...] = ()
    """Recipe fields to replace, as (field, value) pairs."""
    params: tuple[tuple[str, Any], ...] = ()
    """Experiment parameters to replace (for example the §3 diagrams' ``grid`` and ``models``), as pairs; an
    experiment refuses a parameter it does not declare."""
    lr_scale: float | None = None
    """Multiply every run's learning rate (after ``recipe``) by this: one axis for experiments whose recipes have
    different learning rates (the §3 diagrams train at 0.07, the others at 0.001)."""

    def __post_init__(self) -> None:
        if self.seed is not None:
            _check_int("seed", self.seed, 0)
        if self.lr_scale is not None:
            object.__setattr__(self, "lr_scale", _check_float("lr_scale", self.lr_scale, 0.0, 1e4, lo_open=True))
        object.__setattr__(self, "recipe", tuple(sorted((str(k), v) for k, v in dict(self.recipe).items())))
        object.__setattr__(self, "params", tuple(sorted((str(k), v) for k, v in dict(self.params).items())))
        fields = {f.name for f in dataclasses.fields(Recipe)}
        unknown = [k for k, _ in self.recipe if k not in fields]
        if unknown:
            raise ConfigError(f"unknown recipe field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(fields))}")
        Recipe(**dict(self.recipe))  # each value in range, or a one-line ConfigError naming the field

    @property
    def empty(self) -> bool:
        return self.seed is None and not self.recipe and not self.params and self.lr_scale is None

    def apply(self, config: RunConfig) -> RunConfig:
        """``config`` with the recipe fields replaced (the learning rate then scaled by ``lr_scale``) and the seed
        moved to ``seed`` + its declared offset."""
        if self.recipe:
            config = dataclasses.replace(config, recipe=dataclasses.replace(config.recipe, **dict(self.recipe)))
        if self.lr_scale is not None:
            config = dataclasses.replace(config, recipe=dataclasses.replace(
                config.recipe, lr=config.recipe.lr * self.lr_scale))
        if self.seed is not None:
            config = dataclasses.replace(config, seed=self.seed + config.seed)
        return config
