"""The names a run is made of, one registry per kind: model families, data distributions, kinds of feature set,
initialisations, optimizers and engines.

Each :class:`Entry` is a name (what configs, run folders and flags hold), a label (how the report and the figures
show it) and a one-line description (the command line's help). These registries are the one place the names are
listed: :mod:`tms.config` validates against them, :mod:`tms.cli` offers them as choices and describes them, the
report and the figures read their labels, and the implementations are keyed by them (:data:`tms.model.FAMILIES`,
:data:`tms.data.DISTRIBUTIONS`, :data:`tms.engines.ENGINES`; tests/test_kinds.py checks that each implements
exactly its registry's names). A new family, distribution or engine is an entry here and an implementation there.

This module is in the lowest layer (it imports only :mod:`tms.errors`), so that config can validate a name without
importing what implements it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class Entry:
    """One name of a kind."""

    name: str
    """What configs, run folders and flags hold."""
    label: str
    """How the report and the figures show it."""
    description: str
    """One line: what it is (the command line's help)."""


class Kind(Mapping[str, Entry]):
    """The entries of one kind by name, in the order listed (the order every error and help text names them).

    A read-only mapping: ``name in MODELS``, ``list(MODELS)`` and ``MODELS[name].label`` work as on a dict."""

    def __init__(self, field: str, entries: Sequence[Entry]):
        self.field = field
        """The config field (or flag) that holds a name of this kind, as errors name it."""
        self._entries = {e.name: e for e in entries}
        if len(self._entries) != len(entries):
            raise ValueError(f"{field}: an entry name twice")

    def __getitem__(self, name: str) -> Entry:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        # a config from JSON may hold any value: a list is simply not a name (a dict lookup would raise TypeError)
        return isinstance(name, str) and name in self._entries

    def __repr__(self) -> str:
        return f"Kind({self.field!r}, {list(self._entries)})"

    def label(self, name: str) -> str:
        """The name's label; an unknown name (a foreign or older results folder) is shown as it is."""
        entry = self._entries.get(name)
        return entry.label if entry else name

    def error(self, value: Any, where: str | None = None) -> ConfigError:
        """The one-line error for a value that is not one of the names: ``model must be one of relu, …, got 'x'``
        (``where`` replaces the field's name, e.g. ``feature_sets[0].kind``)."""
        return ConfigError(f"{where or self.field} must be one of {', '.join(self)}, got {value!r}")

    def check(self, value: Any, where: str | None = None) -> str:
        """``value`` when it is one of the names, else :meth:`error` raised."""
        if value not in self:
            raise self.error(value, where)
        return value

    def help(self, default: str | None = None, names: Sequence[str] | None = None) -> str:
        """The names with their descriptions, for a flag's help (``names``: those the flag offers, default all;
        ``%`` escaped for argparse)."""
        parts = [f"{n}{' (default)' if n == default else ''}: {self._entries[n].description}"
                 for n in (self if names is None else names)]
        return "; ".join(parts).replace("%", "%%")


MODELS = Kind("model", (
    Entry("relu", "ReLU output", "ReLU output, tied: x' = ReLU(WᵀW x + b), W [m, n] (PAPER.md §0)"),
    Entry("linear", "Linear", "linear, tied: x' = WᵀW x + b (PAPER.md §0)"),
    Entry("hidden-relu", "hidden-relu",
          "ReLU hidden layer and output, tied: h = ReLU(W x), x' = ReLU(Wᵀ h + b), no hidden bias (PAPER.md §7)"),
    Entry("untied-abs", "untied-abs",
          "untied, computes |x|: h = ReLU(W1 x), y' = ReLU(W2 h + b), W1 [m, n], W2 [n, m], target |x| (PAPER.md §8)"),
))
"""Model families (implemented in :data:`tms.model.FAMILIES`). The labels are what the figures and the report
show; the figures' titles start with them, hence "Linear"."""

DATA = Kind("data", (
    Entry("independent", "independent",
          "each feature 0 with probability 1 - p_i, else U[0, 1], independently (PAPER.md §0)"),
    Entry("sets", "feature sets",
          "correlated and anticorrelated feature sets (RunConfig.feature_sets), the other features independent "
          "(PAPER.md §4)"),
    Entry("signed", "signed", "each feature 0 with probability 1 - p_i, else U[-1, 1], independently (PAPER.md §8)"),
    Entry("alt", "one target + noise",
          "one target feature per sample (uniform), U[0, 1]; every other feature on with probability p_i, then "
          "0.1 U[0, 1] (Roe & Goldstein 2025, BEYOND.md ALT)"),
))
"""Data distributions (implemented in :data:`tms.data.DISTRIBUTIONS`)."""

CORRELATIONS = Kind("kind", (
    Entry("correlated", "correlated",
          "one shared zero/non-zero draw for the whole set (its members share one density), each active member's "
          "value U[0, 1] independently"),
    Entry("anticorrelated", "anticorrelated",
          "at most one member active per sample: member i with probability p_i, so the set is all zero with "
          "probability 1 - sum p_i; the active member's value U[0, 1]"),
))
"""Kinds of feature set (PAPER.md §4; :class:`tms.config.FeatureSet`). In both the config's densities are
per-feature: the probability that a feature is non-zero, as for independent features."""

INITS = Kind("init", (
    Entry("paper", "paper",
          "Xavier-normal over the instance batch, as the companion notebook: std = sqrt(2 / (m (n + settings)))"),
    Entry("per_model", "per_model", "Xavier-normal per model: std = sqrt(2 / (m + n))"),
    Entry("scaling", "scaling",
          "W ~ N(0, 1/m) and b ~ N(0, 1), as Liu, Liu & Gore 2025's code (the scaling section)"),
    Entry("normal", "normal", "W and b from N(0, 1) (Roe & Goldstein 2025's torch.randn)"),
))
"""Initialisations (:attr:`tms.config.Recipe.init`, implemented in :func:`tms.model.init_weights`)."""

OPTIMIZERS = Kind("optimizer", (
    Entry("adamw", "AdamW", "AdamW, decoupled weight decay (the paper's companion notebook)"),
    Entry("adam", "Adam", "Adam, weight decay as an L2 term added to the gradient (torch.optim.Adam)"),
    Entry("sgd", "SGD",
          "SGD with momentum (Recipe.momentum, --momentum), weight decay as an L2 term (torch.optim.SGD)"),
))
"""Optimizers; both engines implement each exactly as its ``torch.optim`` class."""

SCHEDULES = Kind("schedule", (
    Entry("constant", "constant", "the learning rate stays at lr after the warm-up (the paper's recipe)"),
    Entry("cosine", "cosine",
          "after the warm-up, cosine decay from lr to lr_floor x lr at the last step (Liu, Liu & Gore 2025)"),
))
"""Learning-rate schedules (:attr:`tms.config.Recipe.schedule`, :func:`tms.schedule.learning_rate`); both start
with ``Recipe.warmup_steps`` of linear warm-up (none by default)."""

LOSSES = Kind("loss", (
    Entry("weighted-mse", "importance-weighted MSE",
          "mean over features and batch of I_i (x_i - x'_i)^2 (PAPER.md §0)"),
    Entry("target-only", "target-only",
          "per sample (x'_t - x_t)^2 + loss_penalty * max over j != t of x'_j, for the sample's one target "
          "feature t, mean over the batch (Roe & Goldstein 2025); needs data that names a target per sample"),
))
"""Training losses (:attr:`tms.config.Recipe.loss`, implemented in :data:`tms.losses.LOSS_FUNCTIONS`)."""

TARGETED_DATA: frozenset[str] = frozenset({"alt"})
"""The data distributions whose samplers also give each sample's target feature (``(x, target)``, target
``[inst, batch]`` int64): the ones a loss that needs a target (``target-only``) trains on."""

AUTO_ENGINE = "auto"
"""The engine name that picks one: the fast engine where it trains the family and distribution, else eager."""
ENGINES = Kind("engine", (
    Entry(AUTO_ENGINE, "auto", "the fast engine where it trains the model and data, else eager"),
    Entry("fast", "fast", "hand-written gradients, a fused optimizer and its own samplers: the eager updates, faster"),
    Entry("eager", "eager", "the reference: the family's forward pass, autograd and torch.optim, for every model "
                            "and data"),
    Entry("sparse", "sparse", "hand-written gradients on sparse batches (rare features as counts) for the tied ReLU "
                              "or linear model on independent data, AdamW, schedules and gamma: the scaling runs"),
))
"""Training engines (implemented in :data:`tms.engines.ENGINES`, every name but :data:`AUTO_ENGINE`)."""

SAE_FAMILIES = Kind("family", (
    Entry("relu", "ReLU + L1", "ReLU encoder, L1 penalty on the latents, unit-norm decoder rows, dead latents "
                               "resampled (Bricken et al. 2023; Sharkey et al. 2022)"),
    Entry("topk", "TopK", "the k largest pre-activations kept, AuxK loss on dead latents (Gao et al. 2024)"),
    Entry("batchtopk", "BatchTopK", "the batch's k x batch largest activations kept, a learned threshold at "
                                    "inference, AuxK (Bussmann et al. 2024)"),
    Entry("jumprelu", "JumpReLU", "a per-latent threshold trained through a straight-through estimator, L0 penalty "
                                  "(Rajamanoharan et al. 2024)"),
    Entry("matryoshka", "Matryoshka", "BatchTopK whose nested prefixes each reconstruct the input "
                                      "(Bussmann et al. 2025)"),
))
"""Sparse-autoencoder families (implemented in :data:`tms.sae.families.FAMILIES`; BEYOND.md SAE)."""
