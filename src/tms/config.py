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
from .kinds import CORRELATIONS, DATA, ENGINES, INITS, LOSSES, MODELS, OPTIMIZERS, SCHEDULES, TARGETED_DATA  # noqa: F401

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


WEIGHT_DECAY = 0.01
"""The recipe's default weight decay (PyTorch's AdamW default)."""


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
    weight_decay: float = WEIGHT_DECAY
    """Weight decay: AdamW's decoupled decay (PyTorch's default; the companion notebook never sets it); Adam's and
    SGD's L2 term. Not used with ``gamma``, which then allows only 0 or this default."""
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
    schedule: str = "constant"
    """Learning-rate schedule, one of :data:`tms.kinds.SCHEDULES`: 'constant' (the paper's) or 'cosine' (decay
    to ``lr_floor`` x lr at the last step), each after ``warmup_steps`` of linear warm-up
    (:func:`tms.schedule.learning_rate`)."""
    warmup_steps: int = 0
    """Steps of linear warm-up from lr/warmup_steps to lr (0: none); fewer than ``steps``."""
    lr_floor: float = 0.05
    """The cosine schedule's last learning rate as a share of lr (Liu, Liu & Gore 2025: 0.05)."""
    gamma: float | None = None
    """Liu, Liu & Gore 2025's superposition knob γ on W, or None (the default) for the recipe's own weight decay.
    When set, b is not decayed, ``weight_decay`` is not used, and before each Adam step (AdamW's update with no
    decay of its own) every feature vector W_i (a column of W) becomes W_i (1 - lr γ) for γ >= 0 (weak
    superposition) or W_i + lr γ W_i (1 - 1 / (‖W_i‖ + eps)) for γ < 0, which pulls ‖W_i‖ towards 1 (strong
    superposition), with the step's scheduled lr and the recipe's eps (their adamw.py). Needs optimizer adamw."""
    loss: str = "weighted-mse"
    """Training and evaluation loss, one of :data:`tms.kinds.LOSSES` (:mod:`tms.losses`)."""
    loss_penalty: float = 0.0
    """λ of the 'target-only' loss: the weight of the largest non-target output (Roe & Goldstein 2025); >= 0."""

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
        self._check_extensions()

    def _check_extensions(self) -> None:
        """The fields added after the paper's recipe (schedule, γ, loss), each left out of config.json at its
        default (:data:`RECIPE_DEFAULTS`)."""
        SCHEDULES.check(self.schedule)
        _check_int("warmup_steps", self.warmup_steps, 0)
        if self.warmup_steps and self.warmup_steps >= self.steps:
            raise ConfigError(f"warmup_steps must be fewer than steps ({self.steps}), got {self.warmup_steps}")
        object.__setattr__(self, "lr_floor", _check_float("lr_floor", self.lr_floor, 0.0, 1.0))
        if self.gamma is not None:
            object.__setattr__(self, "gamma", _check_float("gamma", self.gamma, -100.0, 100.0))
            if self.optimizer != "adamw":
                raise ConfigError(f"gamma needs optimizer adamw (an Adam step after the decay), got optimizer "
                                  f"{self.optimizer!r}")
            # γ replaces AdamW's decay on W and b is not decayed (Liu, Liu & Gore's adamw.py), so a weight_decay
            # would be silently unused: only 0 and the default (which every run folder with γ records) mean "none".
            if self.weight_decay not in (0.0, WEIGHT_DECAY):
                raise ConfigError(f"weight_decay is not used with gamma (γ replaces the decay of W, b is not "
                                  f"decayed): leave weight_decay at 0 or its default {WEIGHT_DECAY:g}, got "
                                  f"weight_decay {self.weight_decay:g} with gamma {self.gamma:g}")
        LOSSES.check(self.loss)
        object.__setattr__(self, "loss_penalty", _check_float("loss_penalty", self.loss_penalty, 0.0, math.inf))
        if self.loss_penalty and self.loss != "target-only":
            raise ConfigError(f"loss_penalty needs loss 'target-only', got loss {self.loss!r}")

    def quick(self) -> "Recipe":
        """The smoke-test version of this recipe (``--quick``): 300 steps at batch ≤ 256 (the warm-up scaled by
        the same factor), otherwise the same."""
        warmup = min(299, round(self.warmup_steps * 300 / self.steps))
        return dataclasses.replace(self, steps=300, batch_size=min(self.batch_size, 256), log_every=50,
                                   eval_batches=2, warmup_steps=warmup)


RECIPE_DEFAULTS = {"schedule": "constant", "warmup_steps": 0, "lr_floor": 0.05, "gamma": None,
                   "loss": "weighted-mse", "loss_penalty": 0.0}
"""The recipe fields added after the paper's, at their defaults: config.json leaves out each field at its default, so
every run folder written before them (and the paper's pinned runs) reads and writes byte for byte as before."""

RUN_DEFAULTS = {"value_max": 1.0, "train_size": None, "normalize": False, "noise": 0.1}
"""The same for the run's fields added after the paper's."""


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
    value_max: float = 1.0
    """Active values are drawn on [0, value_max] (signed data: [-value_max, value_max]) instead of the paper's
    [0, 1]; Liu, Liu & Gore 2025 use 2."""
    train_size: int | None = None
    """T: None (the paper's) draws a fresh batch every step; an integer trains on T fixed examples per instance,
    drawn once from the seed, full batch when batch_size >= T, else in batches of a fresh permutation every epoch
    (Henighan et al. 2023). The final loss and the logged test losses are on fresh draws."""
    normalize: bool = False
    """Scale every example (training, test and evaluation) to unit length; an all-zero example stays zero
    (Henighan et al. 2023)."""
    noise: float = 0.1
    """Data 'alt' only: the amplitude of the non-target features, on with their density and then noise · U[0, 1]
    (Roe & Goldstein 2025 use 0.1, :data:`tms.data.ALT_NOISE`)."""

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
        object.__setattr__(self, "value_max", _check_float("value_max", self.value_max, 0.0, 1e6, lo_open=True))
        if self.train_size is not None:
            _check_int("train_size", self.train_size, 1)
        if not isinstance(self.normalize, bool):
            raise ConfigError(f"normalize must be true or false, got {self.normalize!r}")
        object.__setattr__(self, "noise", _check_float("noise", self.noise, 0.0, 1e3))
        if self.data != "alt" and self.noise != RUN_DEFAULTS["noise"]:
            raise ConfigError(f"noise is the amplitude of data 'alt''s non-target features, got data {self.data!r}; "
                              "leave noise at 0.1 or use data alt")
        if self.recipe.gamma is not None and self.model == "untied-abs":
            raise ConfigError("gamma acts on the tied W: use model relu, linear or hidden-relu, got 'untied-abs'")
        if self.recipe.loss == "target-only" and self.data not in TARGETED_DATA:
            raise ConfigError(f"loss 'target-only' needs data that names each sample's target feature "
                              f"({', '.join(sorted(TARGETED_DATA)) or 'none registered'}), got data {self.data!r}")

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

    def extensions(self) -> tuple[str, ...]:
        """The fields added after the paper's recipe that this config sets away from their defaults (recipe fields
        by their names, run fields too): what an engine must implement to train it
        (:attr:`tms.engines.Engine.extensions`)."""
        out = [k for k, v in RECIPE_DEFAULTS.items() if getattr(self.recipe, k) != v]
        return tuple(out + [k for k, v in RUN_DEFAULTS.items() if getattr(self, k) != v])

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
        for name, default in RECIPE_DEFAULTS.items():  # fields added later: written only when set
            if d["recipe"][name] == default:
                del d["recipe"][name]
        for name, default in RUN_DEFAULTS.items():
            if d[name] == default:
                del d[name]
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

    @classmethod
    def power_law(cls, n_features: int, n_hidden: int, alphas: Sequence[float], expected_active: float = 1.0,
                  **kwargs: Any) -> "RunConfig":
        """One setting per frequency-law exponent α (:func:`power_law_densities`: p_i ∝ i^−α, Σ p_i =
        ``expected_active``), every importance 1 (Liu, Liu & Gore 2025)."""
        alphas = list(alphas)
        if not alphas:
            raise ConfigError("power_law must have at least one value")
        rows = tuple(power_law_densities(n_features, a, expected_active, field="power_law") for a in alphas)
        return cls(n_features=n_features, n_hidden=n_hidden, density=rows,
                   importance=tuple((1.0,) * n_features for _ in rows), **kwargs)


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


def power_law_densities(n_features: int, alpha: float, expected_active: float = 1.0,
                        field: str = "alpha") -> tuple[float, ...]:
    """Per-feature densities of a frequency law (Liu, Liu & Gore 2025): p_i ∝ i^−α for i = 1..n, normalised so
    that Σ p_i = ``expected_active``, the expected number of active features per sample.

    ``alpha`` is the paper's exponent α (>= 0); their code writes i^−(1+a), so a = α − 1 (a ∈ [0, 1] there is
    α ∈ [1, 2] here). A density above 1 (too many expected features for a steep law) is refused. ``field`` is the
    name the errors give α (:meth:`RunConfig.power_law` passes its field, ``power_law``).
    """
    _check_int("features", n_features, 1)
    alpha = _check_float(field, alpha, 0.0, 100.0)
    expected = _check_float("expected_active", expected_active, 0.0, float(n_features), lo_open=True)
    weights = [float(i) ** -alpha for i in range(1, n_features + 1)]
    total = math.fsum(weights)
    out = tuple(expected * w / total for w in weights)
    if out[0] > 1.0:
        raise ConfigError(f"expected_active {expected_active:g} is too many for {field} {alpha:g} over {n_features} "
                          f"features: feature 1's density would be {out[0]:.3g} > 1")
    return out
