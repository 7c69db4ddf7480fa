"""The fast engine: the eager reference's optimisation (PAPER.md §0) with a hand-written backward pass.

Same math as :mod:`.eager` — per-instance loss = mean over batch and features of I_i (x_i - x'_i)^2, summed over
instances, a fresh batch every step, AdamW with decoupled weight decay — computed the way the tiny model
allows. On a CPU the eager step is dominated by random-number generation and by many small unfused passes
over ``[inst, batch, feat]`` tensors, not by arithmetic, so:

- **Sampling from raw bits** (:class:`FeatureSampler`): one 32-bit random word ``s`` per element (numpy's
  PCG64 on the CPU, about 3x cheaper per element than ``torch.rand``; torch's generator on other devices).
  The feature is active when ``s`` falls in the top fraction ``p`` of the int32 range, ``s >= T = 2^31 - p 2^32``,
  and then ``(s - T) / (p 2^32)`` is U[0, 1): one draw per element, as
  :func:`tms.data.sample_features_one_draw`. The engine keeps ``X' = relu(s - T)``, so ``x = a X'`` with
  ``a = 2^-32 / p``, and folds ``a`` into the small weight matrices instead of spending a pass on it.
  Parts whose densities are all small draw only the active elements instead (:class:`SparseSampler`).
- **Work for every core without multi-threaded small ops** (:func:`train_chunk`): on the CPU a chunk is
  split into cache-sized parts of instances (:func:`split_parts`), trained by one worker thread per core,
  each op single-threaded. A chunk too small to split draws its batches on a helper thread instead, a
  block of steps ahead of the trainer (:class:`BatchStream`). Parts, blocks and random streams depend only
  on the shapes and the generator, never on the thread count or timing, so a seed gives the same numbers
  however many cores ran it.
- **The step loop compiled by TorchScript** (:class:`PartTrainer`, :func:`compile_trainer`): a block of
  steps (convert the words, gradients, AdamW) runs as one call without Python and without Python's global
  lock. Called op by op from Python, two worker threads queued for that lock at every op (a wake-up costs
  tens of microseconds here), so parts on two cores ran little faster than one; compiled, they run side by
  side. It compiles in about 20 ms; where TorchScript is missing or fails, the same module runs uncompiled.
- **Feature-major layout** ``[inst, feat, batch]`` plus a row of ones, ``X = [X'; 1]``: each feature row is
  contiguous, per-(instance, feature) constants broadcast along the fast axis, and the bias rides through the
  matmuls (its gradient falls out of the same product).
- **Loss scale folded in**: with ``c = 2 I / (batch n)`` the gradient with respect to the pre-activation ``z``
  is ``c (z - x) [z > 0]``; the engine computes ``c z`` and ``c (z - x)`` directly (the constants live in the
  small matrices), so the backward through the ReLU is one ``threshold_backward`` pass.
- **Two forms of the same model**, chosen per shape (:func:`choose_form`):
  ``gram`` (small n): with ``M = W^T W`` [n, n], one batched matmul gives both ``c z`` and ``c (z - x)``, one
  more gives ``dL/dM`` and the bias gradient, and ``dL/dW = W (dL/dM + dL/dM^T)`` is a tiny matmul: two
  passes over the batch instead of five;
  ``hidden`` (larger n): ``h = W x`` first, five batched matmuls with inner size m or n like the eager model,
  since the n x n form would cost about n / m times more arithmetic.
- **One parameter tensor** (W and b side by side) updated by PyTorch's fused AdamW kernel: the same update
  as ``torch.optim.AdamW``, in one call.
- **Loss only when it is logged**: the training loss is needed every ``log_every`` steps, not every step.
- **Tiny batches**: where PyTorch's bmm would loop over instances one small matrix at a time, the gram form's
  forward product is n + 1 broadcast passes instead (:data:`BROADCAST_MAX_PRODUCT`).

Everything is plain PyTorch on whatever device the tensors live on (on CUDA: one part, no helper threads,
torch's generator); only the CPU bit source uses numpy. ``torch.compile`` was left out: its compile time
(tens of seconds here) is larger than a whole paper-length run of the small models, and its code for the
intro step ran at half the speed of the hand-written one.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import logging
import math
import os
import threading
import warnings
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Callable, List, Optional

import numpy as np
import torch
from torch import Tensor

from ..config import Recipe
from ..errors import ConfigError

log = logging.getLogger(__name__)

#: ``gram`` costs about 2 (n + 1) multiply-adds per sample and feature against about 5 m for ``hidden``, but
#: runs two matmuls instead of five and one elementwise pass instead of two. Measured on 2 CPU cores it wins
#: up to n = 5 and loses from n = 20 (§2, m = 5) on.
GRAM_MAX_FEATURES = 8

#: PyTorch's CPU bmm multiplies matrices whose product of sizes is below about 400 one at a time in a plain
#: loop (a microsecond per instance); up to this size the gram form computes its forward product as
#: broadcast passes instead (3-5x faster for 2 -> 1 models at batch 32). Only small batches get there.
BROADCAST_MAX_PRODUCT = 512

#: Random words are drawn in blocks of about this many elements (whole steps, at most ``MAX_BLOCK_STEPS``):
#: one numpy call per block amortises the call's overhead over the steps of a tiny model.
BLOCK_ELEMENTS = 1 << 18
MAX_BLOCK_STEPS = 32

#: With the helper thread, blocks are larger: handing a block between threads costs ~60 us here (two
#: thread wake-ups), which blocks of one step (§2) would pay every step. Measured: §2 at 2^18 (1 step per
#: block) 510 us/step, at 2^20 (7 steps) 300 us/step; the intro config 150 -> 105 us/step.
PIPELINE_BLOCK_ELEMENTS = 1 << 20

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

#: A single part draws its batches on a helper thread (when there are two or more cores) only up to this
#: many elements per step; beyond it the matmuls are wide enough to use every core themselves.
PIPELINE_MAX_ELEMENTS = 1 << 20

# -- sampling -------------------------------------------------------------------------------------------


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

    def train_block(self, trainer: Callable, block: Tensor, first_step: int, recipe: Recipe) -> tuple[int, list]:
        """Run ``trainer`` (:class:`PartTrainer`) on one block: ``(steps, losses of the logged steps)``."""
        return block.shape[0], trainer(block, first_step, recipe.log_every, recipe.steps)

    def draw_words(self, shape: tuple[int, ...]) -> Tensor:
        """Raw words for ``shape`` (``[..., inst, feat, batch]``); :meth:`convert` turns them into X'."""
        return self.bits.draw(shape)

    def convert(self, words: Tensor, out: Tensor) -> None:
        """``out = relu(float(words) - T)``; ``out`` may be a strided view (the rows of X above the ones)."""
        convert_words(words, self.T, out)

    def sample_into(self, out: Tensor) -> None:
        """Fill ``out [..., inst, feat, batch]`` (float32, may be a strided view) with fresh X'."""
        self.convert(self.draw_words(tuple(out.shape)), out)


def sample_features(density: Tensor, batch_size: int, generator: torch.Generator, sparse: bool = False) -> Tensor:
    """``[inst, batch, feat]`` features drawn the way the fast engine draws them (for tests and comparisons);
    ``sparse``: the way :class:`SparseSampler` draws them (CPU)."""
    inst, feat = density.shape
    if sparse:
        index, value, _ = SparseSampler(density, RawBits(generator, density.device), batch_size).draw_block(1)
        X = torch.zeros(inst, feat + 1, batch_size)
        X.view(-1).index_put_((index,), value)  # as PartTrainer.forward_sparse places them
        return X[:, :feat].transpose(1, 2).contiguous()
    sampler = FeatureSampler(density, RawBits(generator, density.device))
    Xp = torch.empty(inst, feat, batch_size, device=density.device)
    sampler.sample_into(Xp)
    return (Xp * sampler.a[:, :, None]).transpose(1, 2).contiguous()


#: On the CPU, a part whose features all have at most this density draws only its active elements
#: (:class:`SparseSampler`). Drawing one word per element costs about 1.5 ns with its conversion; drawing an
#: active element about 15 ns: the sparse sampler wins below p of about 0.1.
SPARSE_MAX_DENSITY = 0.05

#: The cost of a sparsely drawn instance relative to a densely drawn one, for balancing parts over cores
#: (:func:`split_parts`): the gradients are the same work, the drawing nearly vanishes (§2 config, measured:
#: about 55 us per instance and step drawn densely, 27 sparsely).
SPARSE_COST = 0.5


class SparseSampler:
    """Draws only the active elements of fresh batches, for parts whose features are all rare.

    Poisson thinning: each (instance, feature) row of a batch receives ``Poisson(lam)`` hits at uniform
    positions, ``lam = -B ln(1 - p)``. The hits at one element are then ``Poisson(lam / B)`` independently
    of every other element (splitting a Poisson process), so an element is active (one hit or more) with
    probability ``1 - exp(-lam / B) = p``, independently of all others; its value is that of its last hit,
    drawn U[0, 1) like every hit and independently of their number and order. That is PAPER.md §0's
    distribution exactly, for about ``p B`` random numbers per row instead of ``B``. Features are stored as
    they are (``a = 1``).

    A block is ``(index, value, offsets)``: flat positions in ``X = [X'; 1]`` (``[inst, n + 1, batch]``) and
    values of all hits of ``count`` steps, step ``k``'s being ``offsets[k]:offsets[k + 1]``. Where one element
    is hit twice, the later write wins: PyTorch's CPU ``index_put_`` writes in order for fewer than 32 768
    hits per step, which holds here (``p B n`` per instance), so the same seed gives the same batches.
    """

    def __init__(self, density: Tensor, bits: RawBits, batch_size: int):
        if bits.np_bits is None:
            raise ValueError("the sparse sampler runs on the CPU only")
        p = density.double().cpu().numpy()
        inst, n = p.shape
        self.lam = (-batch_size * np.log1p(-p)).reshape(-1)  # [inst * n]
        self.row_start = ((np.arange(inst)[:, None] * (n + 1) + np.arange(n)[None, :]) * batch_size).reshape(-1)
        self.B = batch_size
        self.rng = np.random.Generator(bits.np_bits)
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
        return torch.from_numpy(index), torch.from_numpy(value), torch.from_numpy(offsets)

    def train_block(self, trainer: Callable, block: tuple[Tensor, Tensor, Tensor], first_step: int,
                    recipe: Recipe) -> tuple[int, list]:
        index, value, offsets = block
        bounds = offsets.tolist()
        return len(bounds) - 1, trainer.forward_sparse(index, value, bounds, first_step, recipe.log_every,
                                                        recipe.steps)


class BatchStream:
    """Yields the random draws of consecutive steps, a block of steps at a time (``sampler.draw_block``).

    One numpy call per block amortises its overhead over the steps of a tiny model; the trainer turns each
    step's draws into features just before the step uses them, while they are in cache. With ``threaded`` a
    helper thread draws the next block while the caller trains the current one: drawing is pure computation
    inside numpy, off Python's lock, so it neither waits for nor slows the trainer (converting on the helper
    too was measured slower: its memory passes slowed the trainer by more than they saved). Either way step
    ``k`` gets the same numbers; only the timing differs.
    """

    def __init__(self, sampler: FeatureSampler | SparseSampler, steps: int, threaded: bool):
        target = PIPELINE_BLOCK_ELEMENTS if threaded else BLOCK_ELEMENTS
        self.block = max(1, min(MAX_BLOCK_STEPS, target // sampler.elements_per_step, steps))
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


# -- optimiser ------------------------------------------------------------------------------------------


class FusedAdamW(torch.nn.Module):
    """AdamW on one flat parameter tensor, the same update as ``torch.optim.AdamW`` (decoupled weight decay,
    bias-corrected moments), through PyTorch's fused kernel when the build has one for the device.

    A module only so that :class:`PartTrainer` can compile it into its step loop; it has no parameters of
    its own in the ``torch.nn`` sense (``param`` and ``grad`` are plain tensors, updated in place).
    """

    def __init__(self, param: Tensor, grad: Tensor, recipe: Recipe):
        super().__init__()
        self.param, self.grad = param, grad
        self.exp_avg = torch.zeros_like(param)
        self.exp_avg_sq = torch.zeros_like(param)
        self.step_t = torch.zeros((), dtype=torch.float32, device=param.device)
        self.one = torch.ones((), dtype=torch.float32, device=param.device)
        self.lr = float(recipe.lr)
        self.beta1, self.beta2 = float(recipe.betas[0]), float(recipe.betas[1])
        self.eps = float(recipe.eps)
        self.weight_decay = float(recipe.weight_decay)
        self.fused = _fused_adamw_works(param.device.type)
        # The kernel's list arguments, made once: TorchScript drops a call whose only effects are on lists
        # built inline in the call.
        self.lists = [[param], [grad], [self.exp_avg], [self.exp_avg_sq], [self.step_t]]

    def step(self) -> None:
        if self.fused:
            self.step_t.add_(self.one)  # the kernel reads the step count; torch.optim increments it first too
            p, g, m1, m2, t = self.lists
            no_amsgrad: List[Tensor] = []
            torch._fused_adamw_(
                p, g, m1, m2, no_amsgrad, t,
                lr=self.lr, beta1=self.beta1, beta2=self.beta2, weight_decay=self.weight_decay,
                eps=self.eps, amsgrad=False, maximize=False,
            )
        else:
            self._step_unfused()

    def _step_unfused(self) -> None:
        # torch.optim.AdamW's single-tensor algorithm, written out.
        self.step_t.add_(self.one)
        t = float(self.step_t.item())
        self.param.mul_(1 - self.lr * self.weight_decay)
        self.exp_avg.lerp_(self.grad, 1 - self.beta1)
        self.exp_avg_sq.mul_(self.beta2).addcmul_(self.grad, self.grad, value=1 - self.beta2)
        bias1 = 1 - self.beta1**t
        bias2_sqrt = math.sqrt(1 - self.beta2**t)
        denom = (self.exp_avg_sq.sqrt() / bias2_sqrt).add_(self.eps)
        self.param.addcdiv_(self.exp_avg, denom, value=-self.lr / bias1)


@functools.lru_cache(maxsize=None)
def _fused_adamw_works(device_type: str) -> bool:
    device = torch.device(device_type)
    if not hasattr(torch, "_fused_adamw_"):
        return False
    try:
        p = torch.zeros(2, device=device)
        torch._fused_adamw_([p], [torch.zeros_like(p)], [torch.zeros_like(p)], [torch.zeros_like(p)], [],
                            [torch.zeros((), device=device)], lr=1e-3, beta1=0.9, beta2=0.999,
                            weight_decay=0.0, eps=1e-8, amsgrad=False, maximize=False)
        return True
    except (RuntimeError, NotImplementedError):
        return False


# -- model and gradients --------------------------------------------------------------------------------


class Model(torch.nn.Module):
    """Parameters and gradient of one part as single tensors ``theta``/``gtheta`` (one fused AdamW call);
    ``W``/``b`` and ``gW``/``gb`` are views into them. Layout ``flat`` puts all of W before all of b;
    ``stacked`` holds ``[W; b]`` per instance, ``[inst, m + 1, n]``, which is the shape the hidden form's
    weight gradient and bias gradient come out of one matmul in.

    ``compute_grads(X, want_loss)`` takes ``X = [X'; 1]`` ``[inst, n + 1, batch]`` with features ``x = a X'``
    and writes the gradient of the summed per-instance losses into ``gtheta``; with ``want_loss`` it returns
    the per-instance loss ``[inst]`` of that batch (before the update). A module (all state in plain tensor
    attributes) so that TorchScript can compile it; it runs the same as plain Python.
    """

    layout = "flat"

    def __init__(self, W: Tensor, b: Tensor, importance: Tensor, a: Tensor, batch_size: int, activation: str):
        super().__init__()
        if activation not in ("relu", "linear"):
            raise ConfigError(f"activation must be relu or linear, got {activation!r}")
        inst, m, n = W.shape
        self.inst, self.m, self.n, self.B = inst, m, n, batch_size
        self.relu = activation == "relu"
        if self.layout == "flat":
            nw = inst * m * n
            self.theta = torch.cat([W.reshape(-1), b.reshape(-1)]).float()
            self.gtheta = torch.zeros_like(self.theta)
            self.W, self.b = self.theta[:nw].view(inst, m, n), self.theta[nw:].view(inst, n)
            self.gW, self.gb = self.gtheta[:nw].view(inst, m, n), self.gtheta[nw:].view(inst, n)
        else:
            self.theta = torch.cat([W, b[:, None, :]], dim=1).float()
            self.gtheta = torch.zeros_like(self.theta)
            self.W, self.b = self.theta[:, :m], self.theta[:, m]
            self.gW, self.gb = self.gtheta[:, :m], self.gtheta[:, m]
        importance = importance.float()
        # c = 2 I / (B n): d(loss)/dz = c (z - x) [z > 0] for the loss of PAPER.md §0.
        self.c = 2.0 * importance / (batch_size * n)
        self.a = a.float()
        # The loss from E = c (x' - x): I (x' - x)^2 / (B n) = (E r)^2 with r = sqrt(B n / I) / 2 (squaring E r,
        # not E, cannot overflow for large importances); a feature with I = 0 has E = 0.
        safe = torch.where(importance > 0, importance, torch.ones_like(importance))
        r = torch.where(importance > 0, (batch_size * n / safe).sqrt() / 2, torch.zeros_like(importance))
        self.loss_r = r[:, :, None]

    def compute_grads(self, X: Tensor, want_loss: bool = False) -> Optional[Tensor]:
        raise NotImplementedError

    def _loss(self, E: Tensor) -> Tensor:
        """Per-instance loss from ``E = c (x' - x)`` laid out ``[inst, feat, batch]``."""
        return (E * self.loss_r).square().sum(dim=(1, 2))


class GramModel(Model):
    """``z = M x + b`` with ``M = W^T W``: two batched matmuls per step; for small n (intro, §3)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        inst, n, B, dev = self.inst, self.n, self.B, self.theta.device
        rows = 2 * n if self.relu else n
        # P: coefficients on X of c z (first n rows, ReLU only) and of c (z - x) (last n rows).
        self.P = torch.empty(inst, rows, n + 1, device=dev)
        self.ZD = torch.empty(inst, rows, B, device=dev)
        self.GZ = torch.empty(inst, n, B, device=dev) if self.relu else self.ZD
        self.Q = torch.empty(inst, n, n + 1, device=dev)
        self.M = torch.empty(inst, n, n, device=dev)
        self.S = torch.empty(inst, n, n, device=dev)
        self.CA = self.c[:, :, None] * self.a[:, None, :]  # c_k a_j
        self.DG = torch.diag_embed(self.c * self.a)  # c_k a_k x_k is subtracted for c (z - x)
        self.G = torch.empty(inst, n, n, device=dev)
        # Views made once: slicing costs about a microsecond per call, a sizeable part of a tiny step.
        self.Wt = self.W.transpose(1, 2)
        self.Pz, self.Pd = self.P[:, :n, :n], self.P[:, rows - n:, :n]
        self.Pb = self.P[:, :, n].view(inst, rows // n, n)
        self.Zc, self.D = self.ZD[:, :n], self.ZD[:, rows - n:]
        self.Qn, self.Qb = self.Q[:, :, :n], self.Q[:, :, n]
        self.Gt = self.G.transpose(1, 2)
        self.c_rep = self.c[:, None, :].expand(inst, rows // n, n)
        self.a_row = self.a[:, None, :]
        self.broadcast_zd = rows * (n + 1) * B <= BROADCAST_MAX_PRODUCT
        self.Pcols = [self.P[:, :, j, None] for j in range(n + 1)]

    def _zd_broadcast(self, X: Tensor) -> None:
        # ZD = P X as n + 1 broadcast passes (row j of X times column j of P), for shapes where bmm would
        # run its per-matrix loop (see BROADCAST_MAX_PRODUCT).
        n = self.n
        torch.mul(self.Pcols[0], X[:, 0:1], out=self.ZD)
        for j in range(1, n):
            self.ZD.addcmul_(self.Pcols[j], X[:, j:j + 1])
        self.ZD.add_(self.Pcols[n])

    def compute_grads(self, X: Tensor, want_loss: bool = False) -> Optional[Tensor]:
        torch.bmm(self.Wt, self.W, out=self.M)
        # c z = (c_k M_kj a_j) X'_j + c_k b_k;  c (z - x) = the same minus c_k a_k X'_k.
        torch.mul(self.M, self.CA, out=self.Pz)
        torch.sub(self.Pz, self.DG, out=self.Pd)
        torch.mul(self.b[:, None, :], self.c_rep, out=self.Pb)
        if self.broadcast_zd:
            self._zd_broadcast(X)
        else:
            torch.bmm(self.P, X, out=self.ZD)
        if self.relu:
            torch.ops.aten.threshold_backward(self.D, self.Zc, 0.0, grad_input=self.GZ)
        # Q[k, j] = sum_b gz_k X_j:  dL/dM[k, j] = a_j Q[k, j],  dL/db = Q[:, :, n].
        torch.bmm(self.GZ, X.transpose(1, 2), out=self.Q)
        torch.mul(self.Qn, self.a_row, out=self.G)
        torch.add(self.G, self.Gt, out=self.S)
        torch.bmm(self.W, self.S, out=self.gW)  # M = W^T W  =>  dL/dW = W (G + G^T)
        self.gb.copy_(self.Qb)
        if not want_loss:
            return None
        if self.relu:  # c (relu(z) - x) = c (z - x) - c min(z, 0)
            return self._loss(self.D - self.Zc.clamp(max=0))
        return self._loss(self.D)


class HiddenModel(Model):
    """``h = W x``, ``z = W^T h + b``: five batched matmuls per step; for larger n (§2, §4)."""

    layout = "stacked"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        inst, n, m, B, dev = self.inst, self.n, self.m, self.B, self.theta.device
        # H = WA X = [h; 1]: WA = [[W diag(a), 0], [0, 1]] keeps the row of ones for the bias.
        self.WA = torch.zeros(inst, m + 1, n + 1, device=dev)
        self.WA[:, m, n] = 1.0
        self.H = torch.empty(inst, m + 1, B, device=dev)
        self.PZ = torch.empty(inst, n, m + 1, device=dev)  # c z = [c W^T, c b] H = PZ H
        self.Zc = torch.empty(inst, n, B, device=dev)
        self.D = torch.empty(inst, n, B, device=dev)
        self.gh = torch.empty(inst, m, B, device=dev)
        self.Q2 = torch.empty(inst, m, n + 1, device=dev)
        self.neg_ca = (-(self.c * self.a))[:, :, None].contiguous()
        self.a_row = self.a[:, None, :]
        self.c_row = self.c[:, None, :]
        # Views made once (see GramModel).
        self.WAw, self.PZt, self.Q2n = self.WA[:, :m, :n], self.PZ.transpose(1, 2), self.Q2[:, :, :n]
        self.Dt, self.gW_ = self.D.transpose(1, 2), self.gtheta[:, :m]

    def compute_grads(self, X: Tensor, want_loss: bool = False) -> Optional[Tensor]:
        n = self.n
        Xp = X[:, :n]
        torch.mul(self.W, self.a_row, out=self.WAw)
        torch.bmm(self.WA, X, out=self.H)
        torch.mul(self.theta, self.c_row, out=self.PZt)
        torch.bmm(self.PZ, self.H, out=self.Zc)
        torch.addcmul(self.Zc, Xp, self.neg_ca, out=self.D)  # c (z - x)
        loss: Optional[Tensor] = None
        if want_loss:
            loss = self._loss(self.D - self.Zc.clamp(max=0) if self.relu else self.D)
        if self.relu:
            torch.ops.aten.threshold_backward(self.D, self.Zc, 0.0, grad_input=self.D)
        # dL/dh = W gz;  [dL/dW; dL/db] = [h; 1] gz^T + [(dL/dh) x^T; 0]
        torch.bmm(self.W, self.D, out=self.gh)
        torch.bmm(self.H, self.Dt, out=self.gtheta)
        torch.bmm(self.gh, X.transpose(1, 2), out=self.Q2)
        self.gW_.addcmul_(self.Q2n, self.a_row)
        return loss


class PartTrainer(torch.nn.Module):
    """The step loop of one part for a block of steps: convert each step's words into ``X``, gradients,
    AdamW, and the loss at the steps that log one (:func:`logs_loss`).

    Compiled with TorchScript where it can be (:func:`compile_trainer`): the compiled loop runs a whole block
    without Python, and without holding Python's global lock, so worker threads training other parts (and
    the helper thread drawing the next block) run alongside it instead of queueing for the lock at every op.
    Uncompiled it does the same, op for op.
    """

    def __init__(self, model: Model, opt: FusedAdamW, T: Tensor):
        super().__init__()
        self.model, self.opt, self.T = model, opt, T
        inst, n, B = model.inst, model.n, model.B
        self.X = torch.zeros(inst, n + 1, B, device=model.theta.device)
        self.X[:, n].fill_(1.0)
        self.Xp = self.X[:, :n]

    def forward(self, words: Tensor, first_step: int, log_every: int, last_step: int) -> List[Tensor]:
        """Train ``len(words)`` steps numbered from ``first_step``; the losses of the logged ones, in order."""
        losses: List[Tensor] = []
        for i in range(words.size(0)):
            convert_words(words[i], self.T, self.Xp)
            self._step(first_step + i, log_every, last_step, losses)
        return losses

    @torch.jit.export
    def forward_sparse(self, index: Tensor, value: Tensor, offsets: List[int], first_step: int, log_every: int,
                       last_step: int) -> List[Tensor]:
        """The same for a block of :class:`SparseSampler`: ``X'`` is zero but at the step's hits."""
        flat = self.X.view(-1)
        losses: List[Tensor] = []
        for i in range(len(offsets) - 1):
            hits = index[offsets[i]:offsets[i + 1]]
            positions: List[Optional[Tensor]] = [hits]
            flat.index_put_(positions, value[offsets[i]:offsets[i + 1]])
            self._step(first_step + i, log_every, last_step, losses)
            flat.index_fill_(0, hits, 0.0)  # back to all zeros for the next step
        return losses

    def _step(self, step: int, log_every: int, last_step: int, losses: List[Tensor]) -> None:
        loss = self.model.compute_grads(self.X, logs_loss(step, log_every, last_step))
        self.opt.step()
        if loss is not None:
            losses.append(loss)


def logs_loss(step: int, log_every: int, last_step: int) -> bool:
    """Whether training step ``step`` (counted from 1) records its loss."""
    return step % log_every == 0 or step == last_step


def convert_words(words: Tensor, T: Tensor, out: Tensor) -> None:
    """``out = relu(float(words) - T)`` (:class:`FeatureSampler`); ``out`` may be a strided view."""
    out.copy_(words)
    out.sub_(T)
    out.relu_()


#: TorchScript (deprecated in PyTorch 2.x but present) is used while it works; ``TMS_NO_SCRIPT=1`` turns it
#: off, and so does any failure to compile: the engine then runs the same modules as plain Python.
SCRIPT_ENV = "TMS_NO_SCRIPT"


def compile_trainer(trainer: PartTrainer) -> Callable[[Tensor, int, int, int], List[Tensor]]:
    """``trainer`` compiled by TorchScript, or ``trainer`` itself where it cannot be (see :data:`SCRIPT_ENV`).

    Compiling is serialised: TorchScript's compiler is not thread-safe (two worker threads compiling their
    first part at once fail with "Can't redefine method"), while running compiled code is.
    """
    if os.environ.get(SCRIPT_ENV, "") not in ("", "0"):
        return trainer
    with _SCRIPT_LOCK:
        if _SCRIPT_FAILURE:
            return trainer
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # TorchScript's deprecation notice
                return torch.jit.script(trainer)
        except Exception as exc:  # noqa: BLE001 - any compiler failure falls back to the same code uncompiled
            _SCRIPT_FAILURE.append(f"{type(exc).__name__}: {exc}".splitlines()[0])
            log.warning("TorchScript could not compile the step loop (%s); training uncompiled, about 1.2-2x "
                        "slower", _SCRIPT_FAILURE[0])
            return trainer


_SCRIPT_LOCK = threading.Lock()
#: The first compiler failure of this process, if any; later parts do not try again.
_SCRIPT_FAILURE: list[str] = []


def choose_form(n_features: int, n_hidden: int) -> str:
    """'gram' or 'hidden' (see :data:`GRAM_MAX_FEATURES`)."""
    return "gram" if n_features <= GRAM_MAX_FEATURES else "hidden"


def make_model(W: Tensor, b: Tensor, importance: Tensor, a: Tensor, batch_size: int, activation: str,
               form: str | None = None) -> Model:
    form = form or choose_form(W.shape[2], W.shape[1])
    cls = {"gram": GramModel, "hidden": HiddenModel}[form]
    return cls(W, b, importance, a, batch_size, activation)


# -- the engine -----------------------------------------------------------------------------------------


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


def sparse_instances(density: Tensor, device: torch.device) -> list[bool]:
    """Which instances :class:`SparseSampler` would draw (CPU only, every feature at most
    :data:`SPARSE_MAX_DENSITY`)."""
    if device.type != "cpu":
        return [False] * density.shape[0]
    return (density <= SPARSE_MAX_DENSITY).all(dim=1).tolist()


def _train_part(
    W: Tensor,
    b: Tensor,
    importance: Tensor,
    density: Tensor,
    activation: str,
    recipe: Recipe,
    bits: RawBits,
    on_log: Callable[[int, Tensor], None],
    on_steps: Callable[[int], None],
    pipelined: bool,
) -> None:
    B = recipe.batch_size
    sparse = all(sparse_instances(density, W.device))
    sampler = SparseSampler(density, bits, B) if sparse else FeatureSampler(density, bits, B)
    model = make_model(W, b, importance, sampler.a.to(W.device), B, activation)
    trainer = compile_trainer(PartTrainer(model, FusedAdamW(model.theta, model.gtheta, recipe), sampler.T))
    done = 0
    blocks = iter(BatchStream(sampler, recipe.steps, pipelined))
    try:
        for block in blocks:
            count, losses = sampler.train_block(trainer, block, done + 1, recipe)
            logged = [s for s in range(done + 1, done + count + 1) if logs_loss(s, recipe.log_every, recipe.steps)]
            for step, loss in zip(logged, losses):
                on_log(step, loss)
            done += count
            on_steps(count)
    finally:
        blocks.close()  # stops the sampler thread if training raised
    W.copy_(model.W)
    b.copy_(model.b)


class _Progress:
    """Steps done by worker threads, handed to the trainer's ``on_steps`` from the calling thread only."""

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


def train_chunk(
    W: Tensor,
    b: Tensor,
    importance: Tensor,
    density: Tensor,
    activation: str,
    recipe: Recipe,
    generator: torch.Generator,
    on_log: Callable[[int, Tensor], None],
    on_steps: Callable[[int], None],
) -> None:
    inst, m, n = W.shape
    dev = W.device
    cost = [SPARSE_COST if sparse else 1.0 for sparse in sparse_instances(density, dev)]
    parts = split_parts(inst, n * recipe.batch_size, dev, cost)
    threads = torch.get_num_threads()
    log.debug("fast engine: %d instances %d -> %d, %s form, %d part(s), %d thread(s)", inst, n, m,
              choose_form(n, m), len(parts), threads)
    with torch.no_grad():
        if len(parts) == 1:
            # One part: on a multi-core CPU a helper thread draws the batches while this one trains.
            pipelined = dev.type == "cpu" and threads >= 2 and inst * n * recipe.batch_size <= PIPELINE_MAX_ELEMENTS
            if pipelined:
                torch.set_num_threads(threads - 1)  # the sampler thread takes one core
            try:
                _train_part(W, b, importance, density, activation, recipe, RawBits(generator, dev), on_log,
                            on_steps, pipelined)
            finally:
                torch.set_num_threads(threads)
            return
        # Several parts: independent models, trained by up to `threads` workers, one core each.
        seeds = torch.randint(0, 2**62, (len(parts), 4), generator=generator).tolist()
        logs: list[dict[int, Tensor]] = [{} for _ in parts]
        progress = _Progress(len(parts))

        def work(k: int) -> None:
            lo, hi = parts[k]
            Wk, bk = W[lo:hi].clone(), b[lo:hi].clone()
            _train_part(Wk, bk, importance[lo:hi], density[lo:hi], activation, recipe,
                        RawBits.from_seed(seeds[k], dev), logs[k].__setitem__, progress.add, pipelined=False)
            W[lo:hi], b[lo:hi] = Wk, bk

        workers = min(threads, len(parts))
        if workers == 1:
            for k in range(len(parts)):
                work(k)
                progress.flush(on_steps)
        else:
            torch.set_num_threads(1)  # the workers share the cores; an op must not spread over them too
            try:
                with ThreadPoolExecutor(workers, thread_name_prefix="tms-part") as pool:
                    pending = {pool.submit(work, k) for k in range(len(parts))}
                    while pending:
                        done, pending = wait(pending, timeout=0.25, return_when=FIRST_EXCEPTION)
                        for f in done:
                            f.result()  # re-raise a worker's error here
                        progress.flush(on_steps)
            finally:
                torch.set_num_threads(threads)
        progress.flush(on_steps)
        for step in sorted(logs[0]):
            on_log(step, torch.cat([logs[k][step] for k in range(len(parts))]))
