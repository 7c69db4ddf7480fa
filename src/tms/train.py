"""The trainer: init, instance chunking, seeding, logging, snapshots and evaluation around an engine.

What defines a run is its :class:`~tms.config.RunConfig`; how it runs (device, engine, threads, progress
display, snapshots) is passed here and recorded in the run folder, never part of the config.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from torch import Tensor

from .config import RunConfig
from .data import draw_dataset, run_sampler
from .engines import ChunkJob, get_engine
from .engines import threads as engine_threads
from .errors import ConfigError, TrainingError
from .losses import get_loss
from .model import Params, get_family
from .results import Block, Results

log = logging.getLogger(__name__)

#: Upper bound on elements of one ``[inst, batch, feat]`` activation tensor; instances are trained (by an engine
#: that does not ask for other chunks, :attr:`tms.engines.Engine.chunk_elements`) and evaluated in chunks below
#: it, so memory stays bounded however many models a sweep asks for. 2^21 float32 elements are 8 MiB per
#: tensor: a chunk (the eager engine's autograd graph, the evaluation batch) stays within some tens of MiB,
#: and a chunk still holds hundreds of small models, enough to keep every op wide. (The fast engine asks for
#: one chunk on the CPU, which it splits into cache-sized parts itself: ``tms.engines.fast.PART_ELEMENTS``.)
DEFAULT_CHUNK_ELEMENTS = 1 << 21

#: Snapshots taken by ``snapshots="log"``: about this many log-spaced steps, step 0 and the last included.
LOG_SNAPSHOTS = 40

# Offsets that keep the init, training and evaluation random streams apart for the same seed.
_STREAM_INIT, _STREAM_TRAIN, _STREAM_EVAL, _STREAM_DATASET, _STREAM_TEST = 0, 1, 2, 3, 4


@dataclass(repr=False)
class TrainResult(Results):
    """Trained parameters and what happened while training (all tensors on the CPU), with the config they were
    trained from: the models' names, selections and measures are :class:`~tms.results.Results`' (``.sel``,
    ``.best``, ``.dimensionality``, ``.table``, ...), as a stored run's. Losses are means over features (the
    paper's are n times larger: :meth:`~tms.results.Results.paper_loss`)."""

    params: Params
    """The family's parameters by name, float32 with a leading instance axis (W ``[inst, hidden, feat]`` and
    b ``[inst, feat]`` for the tied families)."""
    final_loss: Tensor
    """``[inst]`` loss on fresh samples after training: the mean over features of I_i (x_i - x'_i)² (the paper
    sums over features: n times this)."""
    log_steps: list[int]
    """Steps at which training losses were recorded."""
    log_losses: Tensor
    """``[len(log_steps), inst]`` training-batch loss at those steps."""
    seconds: float
    device: str
    engine: str
    snapshot_steps: list[int] = field(default_factory=list)
    """Steps of the snapshots (0: before training)."""
    snapshots: Params = field(default_factory=dict)
    """Parameters at those steps, by name: ``[len(snapshot_steps), inst, ...]``."""
    threads: int = 1
    log_test_losses: Tensor | None = None
    """With a finite dataset (:attr:`~tms.config.RunConfig.train_size`): ``[len(log_steps), inst]`` loss on a fixed
    batch of fresh draws after each logged step; None otherwise."""
    config: RunConfig | None = None
    """The config the models were trained from (:func:`train` sets it); the names, selections and measures need
    it."""

    @property
    def loss(self) -> Tensor:
        """The final loss, ``final_loss`` (as a stored run names it)."""
        return self.final_loss

    def _blocks(self) -> list[Block]:
        if self.config is None:
            raise ConfigError("this TrainResult has no config (it was built by hand): pass config=, as tms.train "
                              "does, to select and measure its models")
        return [Block.whole(self.config, self.params, self.final_loss)]


def resolve_device(device: str) -> torch.device:
    """'auto' picks CUDA when present, else the CPU; 'cpu' and 'cuda' are taken as asked."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("device 'cuda' was asked for but no CUDA device is available; use auto or cpu")
        return torch.device(device)
    raise ConfigError(f"device must be one of auto, cpu, cuda, got {device!r}")


def make_generator(seed: int, stream: int, index: int, device: torch.device) -> torch.Generator:
    """A generator for one random stream (init/train/eval) of one chunk, derived from the run's seed."""
    g = torch.Generator(device=device)
    g.manual_seed((seed * 1_000_003 + stream * 7_919 + index) % (2**63 - 1))
    return g


def chunk_size(config: RunConfig, max_elements: int | None = DEFAULT_CHUNK_ELEMENTS) -> int:
    """Instances per chunk: as many as fit ``max_elements`` (batch x widest layer each), at least one; all of
    them when ``max_elements`` is None."""
    if max_elements is None:
        return config.n_instances
    per_instance = config.recipe.batch_size * max(config.n_features, config.n_hidden)
    return max(1, min(config.n_instances, max_elements // per_instance))


def initial_params(config: RunConfig) -> Params:
    """The parameters at step 0, on the CPU, from the config's seed (independent of device and chunking)."""
    g = make_generator(config.seed, _STREAM_INIT, 0, torch.device("cpu"))
    # 'paper' init at the notebook's scale, one instance per setting, however many restarts (PAPER.md §0).
    return get_family(config.model).init(config.n_instances, config.n_hidden, config.n_features,
                                         config.recipe.init, g, config.n_settings)


def snapshot_steps(spec: Sequence[int] | str | None, steps: int) -> list[int]:
    """The snapshot steps of a ``snapshots`` argument: None (none), 'log' (about :data:`LOG_SNAPSHOTS`
    log-spaced steps from 0 to ``steps``) or explicit steps in [0, steps]."""
    if spec is None:
        return []
    if isinstance(spec, str):
        if spec != "log":
            raise ConfigError(f"snapshots must be 'log' or a list of steps in [0, {steps}], got {spec!r}")
        out = {0, steps}
        out.update(int(round(math.exp(math.log(steps) * k / (LOG_SNAPSHOTS - 1)))) for k in range(LOG_SNAPSHOTS))
        return sorted(out)
    out = []
    for s in spec:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= steps:
            raise ConfigError(f"snapshot steps must be integers in [0, {steps}] (the run's steps), got {s!r}")
        out.append(s)
    return sorted(set(out))


def _tensors(config: RunConfig) -> tuple[Tensor, Tensor]:
    return (torch.tensor(config.instance_density(), dtype=torch.float32),
            torch.tensor(config.instance_importance(), dtype=torch.float32))


#: Evaluation computes the loss of parts of about this many elements (instances x batch x features), one part
#: per worker task, single-threaded: the split depends on the shapes only, and the numbers do not depend on it
#: (tested). Parts this large keep the workers in torch's kernels, off Python's lock.
EVAL_PART_ELEMENTS = 1 << 17


@torch.no_grad()
def evaluate(
    config: RunConfig, params: Params, device: torch.device, max_elements: int = DEFAULT_CHUNK_ELEMENTS,
    threads: int = 1,
) -> Tensor:
    """Per-instance loss ``[inst]`` on ``eval_batches`` fresh batches (a stream separate from training).

    Every op runs on one thread (``threads`` workers share the parts of each batch), so the loss does not
    depend on the thread count either."""
    family = get_family(config.model)
    sample = run_sampler(config)
    loss_fn, penalty = get_loss(config.recipe.loss), config.recipe.loss_penalty
    density, importance = _tensors(config)
    size = chunk_size(config, max_elements)
    out = torch.empty(config.n_instances)
    with engine_threads.Workers(threads, 1, name="tms-eval") as workers:
        for c, lo in enumerate(range(0, config.n_instances, size)):
            hi = min(lo + size, config.n_instances)
            g = make_generator(config.seed, _STREAM_EVAL, c, device)
            pc = {k: v[lo:hi].to(device) for k, v in params.items()}
            dc, ic = density[lo:hi].to(device), importance[lo:hi].to(device)
            step = max(1, EVAL_PART_ELEMENTS // (config.recipe.batch_size * max(config.n_features, config.n_hidden)))
            parts = [(a, min(a + step, hi - lo)) for a in range(0, hi - lo, step)]
            total = torch.zeros(hi - lo, device=device, dtype=torch.float64)

            def draw(dc=dc, g=g) -> tuple[Tensor, Tensor | None]:
                return sample(dc, config.recipe.batch_size, g)

            # Batches are drawn one after the other (the stream is the run's), the next while this one's
            # parts are computed.
            upcoming = workers.submit(draw)
            for k in range(config.recipe.eval_batches):
                x, t = upcoming.result()
                if k + 1 < config.recipe.eval_batches:
                    upcoming = workers.submit(draw)
                losses = workers.run([
                    lambda a=a, b=b, x=x, t=t: loss_fn(family, {n: v[a:b] for n, v in pc.items()}, x[a:b], ic[a:b],
                                                       None if t is None else t[a:b], penalty).double()
                    for a, b in parts])
                total += torch.cat(losses)
            out[lo:hi] = (total / config.recipe.eval_batches).float().cpu()
    return out


def train(
    config: RunConfig,
    *,
    device: str = "auto",
    engine: str = "auto",
    threads: int | None = None,
    snapshots: Sequence[int] | str | None = None,
    progress: bool | Callable[[int, int], None] = False,
    max_chunk_elements: int | None = None,
) -> TrainResult:
    """Train every instance of ``config``: a :class:`TrainResult` of named models (:class:`~tms.results.Results`),
    whose final losses are means over features (the paper's are n times larger).

    Instances train in chunks of at most ``max_chunk_elements`` (default: what the engine asks for on this
    device, :attr:`tms.engines.Engine.chunk_elements`). ``threads``: CPU threads the engine may use (default:
    ``torch.get_num_threads()``, read, never changed); the trained numbers do not depend on it. ``snapshots``: None, 'log' or explicit steps in [0, steps] at
    which to keep a copy of the parameters (they change no trained number). ``progress`` is False (silent),
    True (a tqdm bar on stderr) or a callback ``(done, total)`` in steps summed over chunks.
    """
    dev = resolve_device(device)
    chosen = get_engine(engine, config.model, config.data, config.extensions(), config.recipe.optimizer)
    if threads is None:
        threads = torch.get_num_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads must be an integer >= 1, got {threads!r}")
    snaps = snapshot_steps(snapshots, config.recipe.steps)
    start = time.perf_counter()
    params = initial_params(config)
    density, importance = _tensors(config)
    if max_chunk_elements is None:
        max_chunk_elements = chosen.chunk_elements.get(dev.type, DEFAULT_CHUNK_ELEMENTS)
    size = chunk_size(config, max_chunk_elements)
    chunks = list(range(0, config.n_instances, size))
    total_steps = config.recipe.steps * len(chunks)

    on_steps, close = _step_counter(progress, total_steps, config)
    finite = finite_data(config, density)
    log_rows: dict[int, Tensor] = {}
    test_rows: dict[int, Tensor] = {}
    snap_rows: dict[int, Params] = {}
    log.info(
        "training %d instances (%d -> %d, %s, %s data) for %d steps on %s with the %s engine, %d thread(s), "
        "in %d chunk(s)", config.n_instances, config.n_features, config.n_hidden, config.model, config.data,
        config.recipe.steps, dev, chosen.name, threads, len(chunks),
    )
    try:
        for c, lo in enumerate(chunks):
            _train_chunk(chosen, config, params, importance, density, c, lo, min(lo + size, config.n_instances), dev,
                         threads, snaps, log_rows, snap_rows, on_steps, finite, test_rows)
    finally:
        close()
    final = evaluate(config, params, dev, threads=threads)
    _refuse_diverged(config, final)
    seconds = time.perf_counter() - start
    log_steps = sorted(log_rows)
    log_losses = torch.stack([log_rows[s] for s in log_steps]) if log_steps else torch.empty(0, config.n_instances)
    snapshot_values = {k: torch.stack([snap_rows[s][k] for s in snaps]) for k in params} if snaps else {}
    test_losses = torch.stack([test_rows[s] for s in log_steps]) if finite is not None and log_steps else None
    log.info("trained in %.1fs; mean final loss %.5f", seconds, final.mean().item())
    return TrainResult(params=params, final_loss=final, log_steps=log_steps, log_losses=log_losses,
                       seconds=seconds, device=str(dev), engine=chosen.name, snapshot_steps=snaps,
                       snapshots=snapshot_values, threads=threads, config=config, log_test_losses=test_losses)


FiniteData = tuple[Tensor, "Tensor | None", Tensor, "Tensor | None"]
"""``(dataset [inst, T, feat], its targets [inst, T] or None, test batch [inst, batch, feat], its targets)``."""


def finite_data(config: RunConfig, density: Tensor | None = None) -> FiniteData | None:
    """A finite run's training set and the fixed test batch whose loss is logged (None for fresh batches every
    step), on the CPU, each from its own stream of the run's seed, for all instances at once: the same T points
    however the instances are chunked, and every epoch (:attr:`~tms.config.RunConfig.train_size`)."""
    if config.train_size is None:
        return None
    if density is None:
        density = _tensors(config)[0]
    sample = run_sampler(config)
    cpu = torch.device("cpu")
    x, target = draw_dataset(sample, density, config.train_size, make_generator(config.seed, _STREAM_DATASET, 0, cpu))
    test_x, test_target = sample(density, config.recipe.batch_size, make_generator(config.seed, _STREAM_TEST, 0, cpu))
    return x, target, test_x, test_target


def _step_counter(progress: bool | Callable[[int, int], None], total_steps: int, config: RunConfig
                  ) -> tuple[Callable[[int], None], Callable[[], None]]:
    """``(on_steps, close)``: counts trained steps into a tqdm bar (``progress=True``) or a callback."""
    bar = None
    done = [0]
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=total_steps, unit="step", desc=f"train {config.n_instances}x{config.n_features}->{config.n_hidden}",
                   leave=False, mininterval=0.5)

    def on_steps(k: int) -> None:
        done[0] += k
        if bar is not None:
            bar.update(k)
        elif callable(progress):
            progress(done[0], total_steps)

    return on_steps, (bar.close if bar is not None else lambda: None)


def _train_chunk(engine, config: RunConfig, params: Params, importance: Tensor, density: Tensor, c: int, lo: int,
                 hi: int, dev: torch.device, threads: int, snaps: Sequence[int], log_rows: dict[int, Tensor],
                 snap_rows: dict[int, Params], on_steps: Callable[[int], None], finite: FiniteData | None = None,
                 test_rows: dict[int, Tensor] | None = None) -> None:
    """Train instances ``lo:hi`` (chunk ``c``, with its own random stream) in place in ``params``, collecting their
    logged losses (and test losses) and snapshots into the rows shared by every chunk."""

    def on_log(step: int, losses: Tensor) -> None:
        row = log_rows.setdefault(step, torch.full((config.n_instances,), float("nan")))
        row[lo:hi] = losses.detach().float().cpu()

    def on_test(step: int, losses: Tensor) -> None:
        row = test_rows.setdefault(step, torch.full((config.n_instances,), float("nan")))
        row[lo:hi] = losses.detach().float().cpu()

    def on_snapshot(step: int, values: Params) -> None:
        row = snap_rows.setdefault(step, {k: torch.empty_like(v) for k, v in params.items()})
        for k, v in values.items():
            row[k][lo:hi] = v.detach().float().cpu()

    job = ChunkJob(
        params={k: v[lo:hi].to(dev).contiguous() for k, v in params.items()},
        importance=importance[lo:hi].to(dev), density=density[lo:hi].to(dev), model=config.model,
        data=config.data, feature_sets=config.feature_sets, recipe=config.recipe,
        generator=make_generator(config.seed, _STREAM_TRAIN, c, dev),
        on_log=on_log, on_steps=on_steps, snapshot_steps=tuple(snaps), on_snapshot=on_snapshot,
        threads=threads, sample=run_sampler(config), value_max=config.value_max,
    )
    if finite is not None:
        x, target, test_x, test_target = finite
        job.dataset, job.test_x, job.on_test = x[lo:hi].to(dev), test_x[lo:hi].to(dev), on_test
        job.dataset_target = None if target is None else target[lo:hi].to(dev)
        job.test_target = None if test_target is None else test_target[lo:hi].to(dev)
    engine.train_chunk(job)
    for k, v in job.params.items():
        params[k][lo:hi] = v.cpu()


def _refuse_diverged(config: RunConfig, final: Tensor) -> None:
    """Refuse rather than store a run that every figure and claim would choke on."""
    bad = (~torch.isfinite(final)).nonzero().flatten().tolist()
    if bad:
        raise TrainingError(
            f"training diverged: the final loss is not finite for {len(bad)} of {config.n_instances} instance(s) "
            f"(first: instance {bad[0]}); try a smaller lr (was {config.recipe.lr:g})"
        )
