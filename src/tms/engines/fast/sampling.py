"""Drawing the training batches: raw random words, dense and sparse samplers, and blocks of steps.

Everything here is a pure function of the generator's state and the shapes: the same seed gives the same
batches however many threads draw or train them, and however the blocks are handed between threads.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from ...config import FeatureSet, Recipe
from ...data import activation_layout

#: Random words are drawn in blocks of about this many elements (whole steps, at most ``MAX_BLOCK_STEPS``):
#: one numpy call per block amortises the call's overhead over the steps of a tiny model.
BLOCK_ELEMENTS = 1 << 18
MAX_BLOCK_STEPS = 32

#: A chunk trained as one part draws larger blocks: when a helper thread draws them, handing a block between
#: threads costs ~60 us here (two thread wake-ups), which blocks of one step (§2) would pay every step.
#: Measured: §2 at 2^18 (1 step per block) 510 us/step, at 2^20 (7 steps) 300 us/step; the intro config
#: 150 -> 105 us/step. The block size depends on the part count only, never on whether the helper thread
#: runs, so the thread count cannot change a batch.
PIPELINE_BLOCK_ELEMENTS = 1 << 20

#: On the CPU, a part whose features all have at most this density draws only its active elements
#: (:class:`SparseSampler`). Drawing one word per element costs about 1.5 ns with its conversion; drawing an
#: active element about 15 ns: the sparse sampler wins below p of about 0.1.
SPARSE_MAX_DENSITY = 0.05

#: The cost of a sparsely drawn instance relative to a densely drawn one, for balancing parts over cores
#: (:func:`tms.engines.fast.parallel.split_parts`): the gradients are the same work, the drawing nearly
#: vanishes (§2 config, measured: about 55 us per instance and step drawn densely, 27 sparsely).
SPARSE_COST = 0.5


class RawBits:
    """Uniform random 32-bit words (int32) from a stream seeded by ``generator``.

    On the CPU the words come from numpy's PCG64 (about 1 ns per word here, against 2 ns for torch's
    mt19937 and 3.3 ns per ``torch.rand`` float); elsewhere from torch's generator on the device. Either way
    the stream is a pure function of the generator's state, so the same seed gives the same batches.
    """

    def __init__(self, generator: torch.Generator | None, device: torch.device, seed: list[int] | None = None):
        self.device = device
        self._generator = generator
        self.np_bits: np.random.PCG64 | None = None
        if device.type == "cpu":
            if seed is None:
                seed = torch.randint(0, 2**62, (4,), generator=generator).tolist()
            self.np_bits = np.random.PCG64(np.random.SeedSequence(seed))
        elif generator is None:
            self._generator = torch.Generator(device=device)
            self._generator.manual_seed(int(np.random.SeedSequence(seed).generate_state(1, np.uint64)[0] >> 1))

    @classmethod
    def from_seed(cls, seed: list[int], device: torch.device) -> "RawBits":
        """A stream of its own for one part of a chunk, from integers drawn off the chunk's generator."""
        return cls(None, device, seed)

    def draw(self, shape: tuple[int, ...]) -> Tensor:
        numel = math.prod(shape)
        pairs = (numel + 1) // 2
        if self.np_bits is not None:
            words = torch.from_numpy(self.np_bits.random_raw(pairs).view(np.int32))
        else:
            # int64 drawn over the full 64-bit range, viewed as pairs of int32 words.
            words = torch.empty(pairs, dtype=torch.int64, device=self.device)
            words.random_(-(2**63), None, generator=self._generator)
            words = words.view(torch.int32)
        return words[:numel].view(shape)


class FeatureSampler:
    """Draws ``X' = relu(s - T)`` for fresh batches; the features are ``x = a X'`` (PAPER.md §0 distribution).

    ``s`` is a uniform int32 word and ``T = 2^31 - p 2^32``, so ``P(s >= T) = p`` and, given that, ``s - T``
    is uniform on [0, p 2^32): ``x = (s - T) / (p 2^32)`` is U[0, 1), and 0 otherwise. The subtraction is in
    float32 after converting ``s``, which rounds it to 24 significant bits: the same resolution as one
    ``torch.rand`` draw. Keeping ``s - T`` (not ``s``) keeps the active values near zero, so nothing cancels
    later in the matmuls.
    """

    signed = False
    """Whether the trainer converts the words with :func:`convert_signed` (else :func:`convert_words`)."""

    def __init__(self, density: Tensor, bits: RawBits, batch_size: int = 0):
        p = density.double()
        self.T = (2.0**31 - p * 2.0**32).float()[:, :, None]  # [inst, feat, 1]
        self.a = (2.0**-32 / p).float()  # [inst, feat]: x = a X'
        self.bits = bits
        self.shape = (*density.shape, batch_size)
        self.elements_per_step = math.prod(self.shape)

    def draw_block(self, count: int) -> Tensor:
        """The words of ``count`` steps, ``[count, inst, feat, batch]``."""
        return self.draw_words((count, *self.shape))

    def train_block(self, trainer: Callable, block: Tensor, first_step: int, recipe: Recipe,
                    snapshots: list[int]) -> tuple[int, list, list]:
        """Run ``trainer`` (:class:`~.loop.PartTrainer`) on one block: ``(steps, losses of the logged steps,
        parameters at the steps in snapshots)``."""
        losses, snaps = trainer(block, first_step, recipe.log_every, recipe.steps, snapshots)
        return block.shape[0], losses, snaps

    def draw_words(self, shape: tuple[int, ...]) -> Tensor:
        """Raw words for ``shape`` (``[..., inst, feat, batch]``); :meth:`convert` turns them into X'."""
        return self.bits.draw(shape)

    def convert(self, words: Tensor, out: Tensor) -> None:
        """``out = relu(float(words) - T)``; ``out`` may be a strided view (the rows of X above the ones)."""
        convert_words(words, self.T, out)

    def sample_into(self, out: Tensor) -> None:
        """Fill ``out [..., inst, feat, batch]`` (float32, may be a strided view) with fresh X'."""
        self.convert(self.draw_words(tuple(out.shape)), out)


class SignedSampler(FeatureSampler):
    """Draws signed features (data ``signed``, PAPER.md §8): 0 with probability 1 - p, else U[-1, 1).

    One word per element again, centred this time: the feature is active when ``|s| < L = p 2^31`` (about
    ``p 2^32`` of the 2^32 words), and then ``sign(s) (L - |s|) / L`` is uniform on [-1, 1]. The trainer keeps
    ``X' = sign(s) relu(L - |s|)`` (:func:`convert_signed`) and folds ``a = 1 / L`` into its small matrices, as for
    :class:`FeatureSampler`; ``T`` holds ``L``.
    """

    signed = True

    def __init__(self, density: Tensor, bits: RawBits, batch_size: int = 0):
        super().__init__(density, bits, batch_size)
        L = density.double() * 2.0**31
        self.T = L.float()[:, :, None]
        self.a = (1.0 / L).float()

    def convert(self, words: Tensor, out: Tensor) -> None:
        convert_signed(words, self.T, out, torch.empty_like(out))


class SetSampler(FeatureSampler):
    """Draws features with correlated and anticorrelated sets (data ``sets``, :func:`tms.data.sample_sets`).

    The members of a set share their activity draw, so one word per element cannot carry both activity and value
    as in :class:`FeatureSampler`. This sampler draws one word per group (a feature in no set, or a set) and one
    per feature, all in int32: the group's word ``u`` decides activity (``lo <= u <= hi`` with the group's
    intervals of :func:`tms.data.activation_layout` scaled to the int32 range), the feature's own word gives the
    value from its low 24 bits, ``x = 2^-24 (v & 0xFFFFFF)``: exactly the resolution of ``torch.rand``. The
    trainer converts the words as it converts the plain sampler's (``relu(float(words) - T)`` with ``T = 0``) and
    folds ``a = 2^-24`` into its small matrices.
    """

    def __init__(self, density: Tensor, bits: RawBits, batch_size: int, sets: Sequence[FeatureSet]):
        super().__init__(density, bits, batch_size)
        group, lo, hi, self.groups = activation_layout(density, sets)
        self.group = None if self.groups == group.numel() else group.to(density.device)

        def word(bound: Tensor, shift: float) -> Tensor:  # [inst, feat, 1] int32 round(bound 2^32) - 2^31 - shift
            w = (bound.double() * 2.0**32).round() - 2.0**31 - shift
            return w.clamp(-(2.0**31), 2.0**31 - 1).to(torch.int32)[:, :, None]

        # For a uniform int32 u: P(u <= hi_word) = hi and P(u >= lo_word) = 1 - lo (to 2^-32).
        self.hi_word = word(hi, 1.0)
        self.lo_word = word(lo, 0.0) if bool((lo > 0).any()) else None
        self.T = torch.zeros_like(self.T)
        self.a = torch.full_like(self.a, 2.0**-24)

    def draw_words(self, shape: tuple[int, ...]) -> Tensor:
        *lead, inst, feat, batch = shape
        u = self.bits.draw((*lead, inst, self.groups, batch))
        if self.group is not None:
            u = u.index_select(-2, self.group)
        active = u <= self.hi_word
        if self.lo_word is not None:
            active &= u >= self.lo_word
        return self.bits.draw(shape).bitwise_and_(0xFFFFFF).mul_(active)


def sample_features(density: Tensor, batch_size: int, generator: torch.Generator, sparse: bool = False,
                    sets: Sequence[FeatureSet] | None = None, signed: bool = False) -> Tensor:
    """``[inst, batch, feat]`` features drawn the way the fast engine draws them (for tests and comparisons);
    ``sparse``: the way :class:`SparseSampler` draws them (CPU); ``sets``: the way :class:`SetSampler` does;
    ``signed``: data ``signed`` (:class:`SignedSampler`, or the sparse sampler's signed values)."""
    inst, feat = density.shape
    if sets is not None:
        sampler = SetSampler(density, RawBits(generator, density.device), batch_size, sets)
        out = torch.empty(inst, feat, batch_size, device=density.device)
        sampler.sample_into(out)
        return (out * sampler.a[:, :, None]).transpose(1, 2).contiguous()
    if sparse:
        index, value, _ = SparseSampler(density, RawBits(generator, density.device), batch_size,
                                        signed).draw_block(1)
        X = torch.zeros(inst, feat + 1, batch_size)
        X.view(-1).index_put_((index,), value)  # as PartTrainer.forward_sparse places them (.loop)
        return X[:, :feat].transpose(1, 2).contiguous()
    sampler = (SignedSampler if signed else FeatureSampler)(density, RawBits(generator, density.device))
    Xp = torch.empty(inst, feat, batch_size, device=density.device)
    sampler.sample_into(Xp)
    return (Xp * sampler.a[:, :, None]).transpose(1, 2).contiguous()




class SparseSampler:
    """Draws only the active elements of fresh batches, for parts whose features are all rare.

    Poisson thinning: each (instance, feature) row of a batch receives ``Poisson(lam)`` hits at uniform
    positions, ``lam = -B ln(1 - p)``. The hits at one element are then ``Poisson(lam / B)`` independently
    of every other element (splitting a Poisson process), so an element is active (one hit or more) with
    probability ``1 - exp(-lam / B) = p``, independently of all others; its value is that of its last hit,
    drawn U[0, 1) like every hit and independently of their number and order (``signed``: U[-1, 1), data
    ``signed``). That is PAPER.md §0's distribution exactly, for about ``p B`` random numbers per row instead of
    ``B``. Features are stored as they are (``a = 1``).

    A block is ``(index, value, offsets)``: flat positions in ``X = [X'; 1]`` (``[inst, n + 1, batch]``) and
    values of all hits of ``count`` steps, step ``k``'s being ``offsets[k]:offsets[k + 1]``. Where one element
    is hit twice, the later write wins: PyTorch's CPU ``index_put_`` writes in order for fewer than 32 768
    hits per step, which holds here (``p B n`` per instance), so the same seed gives the same batches.
    """

    signed = False  # the trainer places the values as they are, whatever their sign

    def __init__(self, density: Tensor, bits: RawBits, batch_size: int, signed: bool = False):
        if bits.np_bits is None:
            raise ValueError("the sparse sampler runs on the CPU only")
        p = density.double().cpu().numpy()
        inst, n = p.shape
        self.lam = (-batch_size * np.log1p(-p)).reshape(-1)  # [inst * n]
        self.row_start = ((np.arange(inst)[:, None] * (n + 1) + np.arange(n)[None, :]) * batch_size).reshape(-1)
        self.B = batch_size
        self.rng = np.random.Generator(bits.np_bits)
        self.signed_values = signed
        self.a = torch.ones(inst, n)
        self.T = torch.zeros(inst, n, 1)  # not used: PartTrainer takes one
        self.elements_per_step = max(1, int(self.lam.sum()))

    def draw_block(self, count: int) -> tuple[Tensor, Tensor, Tensor]:
        hits = self.rng.poisson(np.broadcast_to(self.lam, (count, self.lam.size)))  # [count, rows]
        offsets = np.zeros(count + 1, dtype=np.int64)
        np.cumsum(hits.sum(axis=1), out=offsets[1:])
        index = np.repeat(np.tile(self.row_start, count), hits.reshape(-1))
        index += self.rng.integers(0, self.B, size=index.size)
        value = self.rng.random(index.size, dtype=np.float32)
        if self.signed_values:
            value = value * np.float32(2.0) - np.float32(1.0)
        return torch.from_numpy(index), torch.from_numpy(value), torch.from_numpy(offsets)

    def train_block(self, trainer: Callable, block: tuple[Tensor, Tensor, Tensor], first_step: int,
                    recipe: Recipe, snapshots: list[int]) -> tuple[int, list, list]:
        index, value, offsets = block
        bounds = offsets.tolist()
        losses, snaps = trainer.forward_sparse(index, value, bounds, first_step, recipe.log_every, recipe.steps,
                                               snapshots)
        return len(bounds) - 1, losses, snaps


class BatchStream:
    """Yields the random draws of consecutive steps, a block of steps at a time (``sampler.draw_block``).

    One numpy call per block amortises its overhead over the steps of a tiny model; the trainer turns each
    step's draws into features just before the step uses them, while they are in cache. With ``threaded`` a
    helper thread draws the next block while the caller trains the current one: drawing is pure computation
    inside numpy, off Python's lock, so it neither waits for nor slows the trainer (converting on the helper
    too was measured slower: its memory passes slowed the trainer by more than they saved). Either way step
    ``k`` gets the same numbers; only the timing differs. The block size (``block_elements``, a choice of the
    caller made from the shapes only) is the same with or without the helper.
    """

    def __init__(self, sampler: "FeatureSampler | SparseSampler", steps: int, block_elements: int, threaded: bool):
        self.block = max(1, min(MAX_BLOCK_STEPS, block_elements // sampler.elements_per_step, steps))
        self.draw = sampler.draw_block
        self.steps = steps
        threaded = threaded and steps > self.block
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="tms-sampler") if threaded else None

    def __iter__(self):
        counts = [min(self.block, self.steps - start) for start in range(0, self.steps, self.block)]
        if self.pool is None:
            for count in counts:
                yield self.draw(count)
            return
        try:
            nxt: Future = self.pool.submit(self.draw, counts[0])
            for k in range(len(counts)):
                block = nxt.result()
                if k + 1 < len(counts):
                    nxt = self.pool.submit(self.draw, counts[k + 1])
                yield block
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)


def convert_words(words: Tensor, T: Tensor, out: Tensor) -> None:
    """``out = relu(float(words) - T)`` (:class:`FeatureSampler`); ``out`` may be a strided view."""
    out.copy_(words)
    out.sub_(T)
    out.relu_()


def convert_signed(words: Tensor, L: Tensor, out: Tensor, magnitude: Tensor) -> None:
    """:class:`SignedSampler`'s words into ``out = sign(s) relu(L - |s|)`` and ``magnitude = relu(L - |s|)`` (so
    ``|X'|`` comes free); ``out`` may be a strided view.

    The same distribution as ``s [|s| < L]``: a word is active when ``|s| < L``, and then ``L - |s|`` is uniform on
    (0, L] with the sign of ``s`` independent of it. Written this way it is five plain float passes; masking
    ``s`` by a comparison took twice as long (the comparison's bool tensor and its promotion)."""
    out.copy_(words)
    torch.abs(out, out=magnitude)
    torch.sub(L, magnitude, out=magnitude)
    magnitude.relu_()
    torch.copysign(magnitude, out, out=out)


def sparse_instances(density: Tensor, device: torch.device) -> list[bool]:
    """Which instances :class:`SparseSampler` would draw (CPU only, every feature at most
    :data:`SPARSE_MAX_DENSITY`)."""
    if device.type != "cpu":
        return [False] * density.shape[0]
    return (density <= SPARSE_MAX_DENSITY).all(dim=1).tolist()
