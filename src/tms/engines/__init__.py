"""Training engines: interchangeable implementations of the same optimisation (PAPER.md §0 recipe).

An engine trains one chunk of instances in place, described by a :class:`ChunkJob`: the parameters (on the
target device, updated in place), the per-instance importances and densities, the model family and data
distribution by name, the recipe, the generator of the training batches, callbacks for the logged losses,
progress and snapshots, and the number of CPU threads it may use.

- ``eager`` is the reference: the family's forward pass, autograd and ``torch.optim.AdamW``, on batches of the
  data distribution: exactly the companion notebook's recipe, for every family and distribution;
- ``fast`` computes the same updates with hand-written gradients, a fused optimizer and its own samplers, for
  the members it lists (:data:`ENGINES`); ``auto`` takes it where it applies and the reference elsewhere.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor

from ..config import FeatureSet, Recipe
from ..errors import ConfigError
from ..kinds import AUTO_ENGINE, Entry
from ..kinds import ENGINES as ENGINE_NAMES


def _ignore(*args) -> None:
    return None


@dataclass
class ChunkJob:
    """One chunk of instances to train, in place."""

    params: dict[str, Tensor]
    """The family's parameters by name (``W [inst, hidden, feat]``, ``b [inst, feat]`` for the tied
    families), float32 on the target device; the engine leaves the trained values in them."""
    importance: Tensor
    """``[inst, feat]`` on the same device."""
    density: Tensor
    """``[inst, feat]`` on the same device: the data distribution's per-feature densities."""
    model: str
    """Model family name (:data:`tms.kinds.MODELS`)."""
    data: str
    """Data distribution name (:data:`tms.kinds.DATA`)."""
    recipe: Recipe
    generator: torch.Generator
    """Generator (on the device) of the training batches."""
    feature_sets: tuple[FeatureSet, ...] = ()
    """The correlated and anticorrelated sets of data 'sets' (:attr:`tms.config.RunConfig.feature_sets`)."""
    on_log: Callable[[int, Tensor], None] = _ignore
    """``on_log(step, losses [inst])`` for every step with ``step % log_every == 0`` or ``step == steps``
    (steps count from 1), with that step's training loss (before the update). Callbacks may come from an
    engine's worker thread, never two at once."""
    on_steps: Callable[[int], None] = _ignore
    """Progress: the number of steps just done (any granularity)."""
    snapshot_steps: tuple[int, ...] = ()
    """Steps after which to copy the parameters (0: before the first step), sorted, within [0, steps]."""
    on_snapshot: Callable[[int, dict[str, Tensor]], None] = _ignore
    """``on_snapshot(step, params)`` with copies of the parameters, for each snapshot step in order."""
    threads: int = 1
    """CPU threads the engine may use (its own worker threads; the calling thread's settings are never
    changed)."""
    value_max: float = 1.0
    """:attr:`tms.config.RunConfig.value_max`, for an engine that draws the batches itself."""
    sample: Callable[..., tuple[Tensor, Tensor | None]] | None = None
    """The run's sampler, ``sample(density, batch_size, generator) -> (x, target or None)``
    (:func:`tms.data.run_sampler`: value range, normalisation, targets), or None for the distribution's own
    (:attr:`data`, :attr:`feature_sets`). The fast engine draws the paper's distributions itself."""
    dataset: Tensor | None = None
    """The finite training set ``[inst, T, feat]`` (:attr:`tms.config.RunConfig.train_size`), or None for fresh
    batches every step."""
    dataset_target: Tensor | None = None
    """Its target features ``[inst, T]`` for data in :data:`tms.kinds.TARGETED_DATA`."""
    test_x: Tensor | None = None
    """With a finite dataset: a fixed batch of fresh draws ``[inst, batch, feat]`` whose loss is logged beside the
    training loss (:attr:`on_test`)."""
    test_target: Tensor | None = None
    on_test: Callable[[int, Tensor], None] = _ignore
    """``on_test(step, losses [inst])``: the loss on ``test_x`` after the logged steps (finite datasets only)."""


@dataclass(frozen=True)
class Engine:
    """A training engine and the model families and data distributions it trains (its label and description
    are its :data:`tms.kinds.ENGINES` entry)."""

    name: str
    module: str
    """Module (under tms.engines) whose ``train_chunk(job)`` trains a chunk."""
    models: tuple[str, ...] | None
    """Families it trains (None: every one)."""
    data: tuple[str, ...] | None
    """Distributions it draws (None: every one)."""
    optimizers: tuple[str, ...] | None = None
    """Optimizers it implements (None: every one)."""
    extensions: tuple[str, ...] = ()
    """The fields added after the paper's recipe (:data:`tms.config.RECIPE_DEFAULTS`, :data:`tms.config.RUN_DEFAULTS`)
    it implements away from their defaults; 'auto' picks the eager reference for a config that sets another."""
    chunk_elements: dict[str, int | None] = field(default_factory=dict)
    """Per device type ('cpu', 'cuda'), the most elements (instances x batch x widest layer) of one chunk the
    trainer hands it; None: no limit (the engine bounds its own memory). Missing types use the trainer's
    default."""

    @property
    def entry(self) -> Entry:
        """The engine's name, label and description."""
        return ENGINE_NAMES[self.name]

    def supports(self, model: str, data: str, extensions: tuple[str, ...] = (), optimizer: str = "adamw") -> bool:
        return ((self.models is None or model in self.models) and (self.data is None or data in self.data)
                and (self.optimizers is None or optimizer in self.optimizers)
                and (self.name == "eager" or all(e in self.extensions for e in extensions)))

    def train_chunk(self, job: ChunkJob) -> None:
        importlib.import_module(f"{__name__}.{self.module}").train_chunk(job)


ENGINES: dict[str, Engine] = {
    # On the CPU the fast engine splits a chunk into cache-sized parts that its workers train one at a time
    # each, so memory is bounded by the parts: one chunk for the whole run keeps every core busy to the end
    # (chunks are trained one after the other). On an accelerator a chunk is one part: 2^26 elements (256 MiB
    # per float32 tensor) keeps its ops wide without filling a small card.
    "fast": Engine("fast", "fast", models=("relu", "linear", "hidden-relu", "untied-abs"),
                   data=("independent", "sets", "signed"),
                   chunk_elements={"cpu": None, "cuda": 1 << 26}),
    "eager": Engine("eager", "eager", models=None, data=None),
    # Liu, Liu & Gore's scaling models: the frequency law's rare features as sparse batches (engines/sparse.py)
    "sparse": Engine("sparse", "sparse", models=("relu", "linear"), data=("independent",), optimizers=("adamw",),
                     extensions=("schedule", "warmup_steps", "lr_floor", "gamma", "value_max"),
                     chunk_elements={"cpu": 1 << 24}),
}
"""The implementation of every name in :data:`tms.kinds.ENGINES` but :data:`tms.kinds.AUTO_ENGINE`, by name."""


AUTO_ORDER = ("fast", "sparse", "eager")
"""The engines 'auto' tries, in order: the first that trains the run."""


def get_engine(name: str, model: str = "relu", data: str = "independent", extensions: tuple[str, ...] = (),
               optimizer: str = "adamw") -> Engine:
    """The engine called ``name`` for this family, distribution, optimizer and the later recipe fields a config sets
    (``extensions``, :meth:`tms.config.RunConfig.extensions`); 'auto' is the fast engine where it applies, else the
    sparse engine where it applies (the new fields of the scaling runs), else the eager reference. ConfigError for
    an unknown name or a run the engine does not train."""
    ENGINE_NAMES.check(name)
    if name == AUTO_ENGINE:
        return next(ENGINES[e] for e in AUTO_ORDER if ENGINES[e].supports(model, data, extensions, optimizer))
    engine = ENGINES[name]
    missing = [e for e in extensions if not engine.supports(model, data, (e,))]
    if missing and engine.supports(model, data):
        raise ConfigError(f"engine {name} does not implement {', '.join(missing)}; use engine eager or auto")
    if not engine.supports(model, data):
        raise ConfigError(
            f"engine {name} trains the models {', '.join(engine.models or ('any',))} on the data "
            f"{', '.join(engine.data or ('any',))}, not model {model!r} on data {data!r}; use engine eager or auto"
        )
    if engine.optimizers is not None and optimizer not in engine.optimizers:
        raise ConfigError(f"engine {name} trains with the optimizers {', '.join(engine.optimizers)}, not "
                          f"{optimizer!r}; use engine eager or auto")
    return engine
