"""The fast engine's chunk: split into parts of instances, trained by worker threads, one core each.

On the CPU a chunk is split into cache-sized parts of instances (:func:`split_parts`); each part trains all its
steps on one worker thread whose ops run single-threaded, and the workers (``job.threads`` of them) share the
parts. A chunk too small to split trains as one part whose batches a helper thread draws, a block of steps
ahead of the trainer (:class:`~.sampling.BatchStream`), when there are two threads or more.

**What the thread count cannot change.** Parts, blocks and random streams depend only on the shapes, the
densities and the generator; every op of the step loop runs with one intra-op thread (in the engine's workers,
whatever the caller's setting); so a seed gives bit-identical weights, logged losses and snapshots for any
``job.threads``. The price: a chunk that cannot be split (one large model) does not spread its matmuls over
cores; on more than two cores such a run is slower than PyTorch's own threading would make it.
"""

from __future__ import annotations

import bisect
import ctypes
import itertools
import logging
import threading
from typing import Callable

import torch
from torch import Tensor

from ...config import Recipe
from .. import ChunkJob
from ..threads import Workers
from .grads import build_model, choose_form, uses_sparse_encoder
from .loop import PartTrainer, compile_trainer, logs_loss
from .optim import FusedOptimizer
from .sampling import (
    BLOCK_ELEMENTS,
    PIPELINE_BLOCK_ELEMENTS,
    SPARSE_COST,
    BatchStream,
    FeatureSampler,
    RawBits,
    SetSampler,
    SignedSampler,
    SparseSampler,
    sparse_instances,
)

log = logging.getLogger(__name__)

#: On the CPU a chunk is trained as parts of about this many batch elements per step (instances x features x
#: batch), each part for all its steps: a part's tensors then stay in the core's L2 cache (2 MiB here), and
#: parts are independent work for the cores. Measured single-threaded, one-instance parts train the §4
#: config ~20 % faster than one 20-instance chunk; the §3 grid gains ~10 %; below about 2^17 the fixed cost
#: of each op starts to dominate on one core (two parts of the §2 config take as long as one there).
PART_ELEMENTS = 1 << 19

#: A chunk of at least this many elements per step is split into two or more parts even below
#: ``PART_ELEMENTS``: two parts on two cores, each drawing its own batches, beat one part whose batches a
#: helper thread draws (measured for the §2 config, 7 x 20 x 1024: ~240 against ~260 us per step), once the
#: step loop runs compiled (:class:`PartTrainer`). Smaller chunks (the intro config, 51 200 elements) stay one
#: part with the helper thread.
SPLIT_MIN_ELEMENTS = 1 << 17


PART_WEIGHT = {"untied-abs": 2}
"""Families whose step costs more per batch element count their elements this many times when a chunk is split:
the untied model has two weight matrices (twice the tied hidden form's parameters per element, and the buffers of
both layers), so its parts hold half as many elements, and a chunk splits into more parts than cores, which the
workers share out. Measured on the §8 sweep (7 x 100 -> 40, 2 cores): 2 parts 414-432 steps/s, 4 parts 461."""


def split_parts(n_instances: int, per_instance_elements: int, device: torch.device,
                cost: list[float] | None = None) -> list[tuple[int, int]]:
    """``[(lo, hi), ...]``: the instance ranges trained as independent parts (see :data:`PART_ELEMENTS`).

    The split depends only on the shapes, the densities (through ``cost``) and the device type, never on the
    thread count, so the numbers a run produces do not depend on how many cores trained it. Parts hold at
    most about ``PART_ELEMENTS`` (instances x batch x features per step), and their count is a power of two;
    chunks of at least ``SPLIT_MIN_ELEMENTS`` make two parts or more. ``cost`` (one number per instance, see
    :data:`SPARSE_COST`) moves the boundaries so that the parts take about equally long, where that leaves
    every part of one kind.
    """
    if device.type != "cpu":
        return [(0, n_instances)]  # an accelerator wants the widest ops it can get
    count = -(-n_instances * per_instance_elements // PART_ELEMENTS)
    if n_instances * per_instance_elements >= SPLIT_MIN_ELEMENTS:
        count = max(count, 2)
    # A power of two, so that the parts share out evenly over 2, 4, 8... workers (3 parts on 2 cores would
    # take as long as 4).
    count = max(1, min(n_instances, 1 << (count - 1).bit_length()))
    bounds = [round(k * n_instances / count) for k in range(count + 1)]
    if cost is not None and len(set(cost)) > 1:
        cumulative = list(itertools.accumulate(cost))
        weighted = [0]
        for k in range(1, count):
            # the first boundary at or past k / count of the total cost, leaving each part one instance
            cut = bisect.bisect_left(cumulative, cumulative[-1] * k / count - 1e-9) + 1
            weighted.append(min(max(cut, weighted[-1] + 1), n_instances - (count - k)))
        weighted.append(n_instances)
        # The costs hold only for parts of one kind: a part mixing both is drawn densely, all of it. So the
        # weighted split is taken only where every change of cost falls on a boundary (the §2 config: 3
        # dense + 4 sparse instances); otherwise (the §3 grid: 260 dense, then 140 sparse, in two parts) the
        # even split.
        changes = {j for j in range(1, n_instances) if cost[j] != cost[j - 1]}
        if changes <= set(weighted):
            bounds = weighted
    return [(bounds[k], bounds[k + 1]) for k in range(count)]



def _libc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None


_MALLOC_TRIM = _libc_trim()

#: Parts of fewer steps leave too little behind to be worth trimming (about 25 MB per 1 000 steps): short runs
#: (the benchmark's rounds of ~100 steps: 43 -> 38 steps/s at 400 -> 30) would fault the pages in again each time.
TRIM_MIN_STEPS = 1000


def release_memory() -> None:
    """Hand the memory freed by a finished part back to the system (glibc's ``malloc_trim``).

    A part allocates blocks of draws whose sizes vary from block to block (the sparse sampler's hits), and
    glibc then keeps the freed space in its arenas, fragmented: measured on 400 -> 30 parts, the process grew by
    about 25 MB per 1 000 steps per part and reached 6 GB over the 42 parts of the §4 geometry run. Trimming
    after every part bounds it to the parts that run at once; trimming after every block would too, but the
    pages it releases are faulted in again at once (p = 0.3: 12.4 s against 9.6 s for 4 x 2 000 steps)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class _PartResult:
    """What a part hands back: its logged losses and snapshots by step (its slice of every instance axis)."""

    def __init__(self) -> None:
        self.logs: dict[int, Tensor] = {}
        self.snapshots: dict[int, dict[str, Tensor]] = {}


def _train_part(params: dict[str, Tensor], importance: Tensor, density: Tensor, job: ChunkJob, bits: RawBits,
                block_elements: int, pipelined: bool, progress: Callable[[int], None],
                check: Callable[[], None]) -> _PartResult:
    """Train one part in place (``params`` its slices); runs in the calling worker thread."""
    recipe: Recipe = job.recipe
    B = recipe.batch_size
    sets = job.data == "sets"
    signed = job.data == "signed"
    device = importance.device
    sparse = not sets and all(sparse_instances(density, device))
    if sets:
        sampler: FeatureSampler | SparseSampler = SetSampler(density, bits, B, job.feature_sets)
    elif sparse:
        sampler = SparseSampler(density, bits, B, signed)
    else:
        sampler = (SignedSampler if signed else FeatureSampler)(density, bits, B)
    # the untied model computes on the samples with an active feature whenever the part is drawn sparsely
    uses_hits = sparse if job.model == "untied-abs" else uses_sparse_encoder(density, sparse)
    model = build_model(params, importance, sampler.a.to(device), B, job.model, sparse_encoder=uses_hits)
    trainer = compile_trainer(PartTrainer(model, FusedOptimizer(model.theta, model.gtheta, recipe), sampler.T,
                                          sampler.signed))
    out = _PartResult()
    wanted = [s for s in job.snapshot_steps if s > 0]
    done = 0
    blocks = iter(BatchStream(sampler, recipe.steps, block_elements, pipelined))
    try:
        for block in blocks:
            check()
            lo, hi = done + 1, done + _block_steps(block)
            count, losses, snaps = sampler.train_block(trainer, block, lo, recipe,
                                                       [s for s in wanted if lo <= s <= hi])
            logged = [s for s in range(lo, hi + 1) if logs_loss(s, recipe.log_every, recipe.steps)]
            out.logs.update(zip(logged, losses))
            out.snapshots.update((s, model.unpack(theta)) for s, theta in zip([s for s in wanted if lo <= s <= hi],
                                                                              snaps))
            done += count
            progress(count)
    finally:
        blocks.close()  # stops the sampler thread if training raised
    for name, value in model.unpack(model.theta).items():
        params[name].copy_(value)
    del model, trainer, blocks, sampler
    if recipe.steps >= TRIM_MIN_STEPS:
        release_memory()
    return out


def _block_steps(block) -> int:
    """Steps in a block of either sampler (dense: words ``[count, ...]``; sparse: ``(index, value, offsets)``)."""
    return block[2].numel() - 1 if isinstance(block, tuple) else block.shape[0]


class _Progress:
    """Steps done by worker threads, handed to ``on_steps`` from the calling thread only."""

    def __init__(self, parts: int):
        self.parts = parts
        self.lock = threading.Lock()
        self.part_steps = 0  # summed over parts; reported in whole chunk steps
        self.reported = 0

    def add(self, k: int) -> None:
        with self.lock:
            self.part_steps += k

    def flush(self, on_steps: Callable[[int], None]) -> None:
        with self.lock:
            whole = self.part_steps // self.parts
        if whole > self.reported:
            on_steps(whole - self.reported)
            self.reported = whole


def train_chunk(job: ChunkJob) -> None:
    params = job.params
    inst, n = job.importance.shape
    m = next(iter(params.values())).shape[1]
    dev = job.importance.device
    recipe = job.recipe
    cost = [SPARSE_COST if sparse and job.data != "sets" else 1.0 for sparse in sparse_instances(job.density, dev)]
    parts = split_parts(inst, n * recipe.batch_size * PART_WEIGHT.get(job.model, 1), dev, cost)
    log.debug("fast engine: %d instances %d -> %d, %s form, %d part(s), %d thread(s)", inst, n, m,
              choose_form(n, m, job.model), len(parts), job.threads)
    if 0 in job.snapshot_steps:
        job.on_snapshot(0, {k: v.clone() for k, v in params.items()})
    progress = _Progress(len(parts))
    with torch.no_grad():
        if dev.type != "cpu":
            # An accelerator: one part, in the calling thread, its batches drawn by the device's generator.
            results = [_train_part(params, job.importance, job.density, job, RawBits(job.generator, dev),
                                   PIPELINE_BLOCK_ELEMENTS, False, progress.add, lambda: None)]
        elif len(parts) == 1:
            # One part: a worker trains it while, given a second thread, a helper draws its batches ahead.
            workers = Workers(1, 1)
            bits = RawBits(job.generator, dev)
            results = workers.run([lambda: _train_part(params, job.importance, job.density, job, bits,
                                                       PIPELINE_BLOCK_ELEMENTS, job.threads >= 2, progress.add,
                                                       workers.check)],
                                  poll=lambda: progress.flush(job.on_steps))
        else:
            # Several parts: independent models, shared out over the workers, one core each.
            seeds = torch.randint(0, 2**62, (len(parts), 4), generator=job.generator).tolist()
            workers = Workers(min(job.threads, len(parts)), 1)

            def work(k: int) -> _PartResult:
                lo, hi = parts[k]
                part = {name: value[lo:hi].clone() for name, value in params.items()}
                res = _train_part(part, job.importance[lo:hi], job.density[lo:hi], job,
                                  RawBits.from_seed(seeds[k], dev), BLOCK_ELEMENTS, False, progress.add,
                                  workers.check)
                for name, value in part.items():
                    params[name][lo:hi] = value
                return res

            results = workers.run([lambda k=k: work(k) for k in range(len(parts))],
                                  poll=lambda: progress.flush(job.on_steps))
    progress.flush(job.on_steps)
    for step in sorted(results[0].logs):
        job.on_log(step, torch.cat([r.logs[step] for r in results]))
    for step in sorted(results[0].snapshots):
        job.on_snapshot(step, {name: torch.cat([r.snapshots[step][name] for r in results]) for name in params})
