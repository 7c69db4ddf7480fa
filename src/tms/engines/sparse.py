"""The sparse engine: the tied ReLU (or linear) model on independent data whose features are mostly rare (Liu, Liu &
Gore 2025's frequency law, BEYOND.md SCALE), with hand-written gradients that never build the dense input.

A batch is its active entries (:func:`tms.data.sample_sparse`: the frequent features drawn densely, the rare ones
as per-feature counts placed in random rows). With x sparse, h = W x is a sum over the active entries, and the
gradient of the mean squared error with respect to the output's pre-activation is
G = 2/(B n) · I ⊙ (ReLU(pre) − x) ⊙ [pre > 0] = 2/(B n) · I ⊙ (ReLU(pre) − x·[pre > 0]): the dense ReLU output
minus x at the active entries only. What is dense is the decoder: pre = h W + b, its ReLU, and the two products
hᵀG and G Wᵀ. The optimizer is ``torch.optim.AdamW`` (the eager engine's), with the recipe's schedule and γ
(:mod:`tms.schedule`), so on the same batch both engines make the same update (tests/test_scaling_engine.py).

Once trained, the ReLU output is sparse as well (pre > 0 at 0.4-0.5 % of the entries after 3 000 steps at m = 64,
13-17 % at the end of the warm-up): where at most :data:`SPARSE_OUTPUT_BELOW` of a model's outputs are positive,
G is kept as its nonzero entries and the two backward products become sums over them (``embedding_bag``), so
only the forward product h W stays dense. Samples with no active feature (37 % where Σ p_i = 1) skip the decoder:
their output is ReLU(b), whose share of the loss and of b's gradient is added in closed form.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..data import SparseBatch, sample_sparse
from ..model import Params
from ..schedule import gamma_decay_, is_constant, learning_rate
from ..segments import segment_sum
from . import ChunkJob, threads
from .eager import make_optimizer

SPARSE_OUTPUT_BELOW = 0.25
"""The ReLU model's backward runs over G's nonzero entries when at most this share of its outputs' 8-wide words
(:func:`positive_entries`) holds a positive output, about 4 % of the outputs (measured at m = 64, n = 1000, batch
1024: the dense products cost 5.3-6.8 ms per model-step at any share, the entry path 2.6 ms at 0.1 %, 3.3 ms at
0.7 %, 5.3 ms at 3.4 % and 12.7 ms at 15 %)."""


def hidden(W: Tensor, batch: SparseBatch) -> Tensor:
    """h = W x ``[inst, batch, hidden]`` from the active entries."""
    inst, B, _ = batch.shape
    h = torch.zeros(inst, B, W.shape[1], device=W.device, dtype=W.dtype)
    h.index_put_((batch.inst, batch.row), W[batch.inst, :, batch.feat] * batch.value[:, None], accumulate=True)
    return h


def loss_and_grads(params: Params, batch: SparseBatch, importance: Tensor | None, linear: bool = False,
                   want_loss: bool = True, sparse_below: float | None = None) -> tuple[Tensor | None, Params]:
    """Per-instance mean loss ``[inst]`` (None unless ``want_loss``) and the gradients of its sum over instances,
    for x' = ReLU(Wᵀ W x + b) (or without the ReLU); ``importance`` None means every I_i = 1. The ReLU model's
    backward runs over G's entries when at most ``sparse_below`` (default :data:`SPARSE_OUTPUT_BELOW`, read at the
    call) of the outputs' 8-wide words hold a positive output (the same gradients, summed in another order).

    Instance by instance, over the samples with an active feature only: a sample with none (e^−1 = 37 % of them
    where Σ p_i = 1) has h = 0 and the output ReLU(b), so it adds I ⊙ ReLU(b)² to the loss and I ⊙ ReLU(b) to G's
    sum (the bias's gradient), and nothing to W's (its hidden vector is 0 and it has no active entry)."""
    if sparse_below is None:
        sparse_below = SPARSE_OUTPUT_BELOW
    inst, B, n = batch.shape
    if inst > 1:
        parts = [loss_and_grads({k: v[i:i + 1] for k, v in params.items()}, instance_part(batch, i),
                                None if importance is None else importance[i:i + 1], linear, want_loss, sparse_below)
                 for i in range(inst)]
        loss = torch.cat([part[0] for part in parts]) if want_loss else None
        return loss, {k: torch.cat([part[1][k] for part in parts]) for k in params}
    rows = torch.unique(batch.row)  # the samples with an active feature, sorted
    active = SparseBatch(batch.inst, torch.searchsorted(rows, batch.row), batch.feat, batch.value, (1, len(rows), n))
    loss, grads = _active_rows(params, active, importance, linear, want_loss, sparse_below, B * n)
    idle = B - len(rows)
    if idle:  # h = 0: the output is ReLU(b) (b for the linear model) and x = 0
        b = params["b"]
        out0 = b if linear else torch.relu(b)  # [1, n]
        G0 = out0 if importance is None else out0 * importance
        grads["b"] = grads["b"] + G0 * (idle * 2.0 / (B * n))
        if want_loss:
            loss = loss + (out0 * G0).sum(1) * (idle / (B * n))
    return loss, grads


def _active_rows(params: Params, batch: SparseBatch, importance: Tensor | None, linear: bool, want_loss: bool,
                 sparse_below: float, norm: int) -> tuple[Tensor | None, Params]:
    """:func:`loss_and_grads` of one instance over the samples of ``batch``, those with an active feature, with the
    loss's normaliser ``norm`` (the whole batch's B · n)."""
    W, b = params["W"], params["b"]
    h = hidden(W, batch)
    out = torch.baddbmm(b[:, None, :], h, W)  # pre-activation [1, B_active, n]
    if not linear:
        out.relu_()
        words = _positive_words(out)
        if words is not None and len(words) <= sparse_below * (out.numel() // 8):
            return _sparse_output(W, h, out, batch, importance, want_loss, positive_entries(out, words), norm)
    at = (batch.inst, batch.row, batch.feat)
    out_active = out[at]
    loss = None
    if want_loss:
        if importance is None:
            total = torch.linalg.vector_norm(out.flatten(1), dim=1).square()
        else:
            total = torch.einsum("ibn,ibn,in->i", out, out, importance)
        # at the active entries (out − x)² = out² − 2 out x + x²: correct the sum of out² there
        correction = batch.value * (batch.value - 2.0 * out_active)
        if importance is not None:
            correction = correction * importance[batch.inst, batch.feat]
        loss = total.index_add(0, batch.inst, correction) / norm
    # G (up to 2/(B n)) = I ⊙ (out − x·[pre > 0]); out is 0 where pre ≤ 0 already
    keep = batch.value if linear else batch.value * (out_active > 0)
    G = out if importance is None else out.mul_(importance[:, None, :])
    if importance is not None:
        keep = keep * importance[batch.inst, batch.feat]
    G.index_put_(at, -keep, accumulate=True)
    scale = 2.0 / norm
    dW = torch.bmm(h.transpose(1, 2), G)  # decoder side [inst, hidden, n]
    dh = torch.bmm(G, W.transpose(1, 2))  # [inst, B, hidden]
    dW.transpose(1, 2).index_put_((batch.inst, batch.feat), dh[batch.inst, batch.row] * batch.value[:, None],
                                  accumulate=True)  # encoder side, over the active entries
    return loss, {"W": dW.mul_(scale), "b": G.sum(dim=1).mul_(scale)}


def _positive_words(out: Tensor) -> Tensor | None:
    """The indices of the 8-output words of ``out`` (ReLU'd, contiguous) that hold a positive output, in order; None
    when its size is not a multiple of 8. ``nonzero`` over the words' bytes read as int64 is 8x fewer elements than
    over the outputs (measured: 0.4 ms against 1.4 ms for 1024 × 1000 outputs at 0.5 % positive)."""
    if out.numel() % 8:
        return None
    return out.reshape(-1).bool().view(torch.int64).nonzero().squeeze(1)


def positive_entries(out: Tensor, words: Tensor | None = None) -> Tensor:
    """The flat indices of the positive entries of a ReLU'd ``out`` (``out.view(-1).nonzero()``, in order), through
    :func:`_positive_words`."""
    if words is None:
        words = _positive_words(out)
        if words is None:
            return out.reshape(-1).nonzero().squeeze(1)
    word, byte = out.reshape(-1).view(-1, 8)[words].bool().nonzero(as_tuple=True)  # only the words that hold one
    return words[word] * 8 + byte


def _sparse_output(W: Tensor, h: Tensor, out: Tensor, batch: SparseBatch, importance: Tensor | None,
                   want_loss: bool, flat: Tensor, norm: int) -> tuple[Tensor | None, Params]:
    """:func:`loss_and_grads` of the ReLU model over the positive outputs of ``out`` (ReLU'd; ``flat``: their flat
    indices, sorted) as entries: G is nonzero only where pre > 0, and there it is I ⊙ (out − x)."""
    inst, B, n = batch.shape
    m = W.shape[1]
    y = out.view(-1)[flat]
    rows = flat // n  # instance · B + sample
    f = flat - rows * n
    cols = rows // B * n + f  # instance · n + feature
    x_flat = (batch.inst * B + batch.row) * n + batch.feat
    hit = out.view(-1)[x_flat] > 0  # the active inputs whose output is positive: G's entries there are out − x
    x_at = torch.zeros_like(y).index_put_((torch.searchsorted(flat, x_flat[hit]),), batch.value[hit])
    g = y - x_at
    if importance is not None:
        g = g * importance.reshape(-1)[cols]
    loss = None
    if want_loss:  # Σ I (out − x)² = Σ over positive outputs I (out − x)² + Σ over active x where out = 0 of I x²
        miss = batch.value[~hit].square()
        if importance is not None:
            miss = miss * importance[batch.inst[~hit], batch.feat[~hit]]
        loss = (torch.bincount(rows // B, weights=(y - x_at) * g, minlength=inst)
                + torch.bincount(batch.inst[~hit], weights=miss, minlength=inst)).to(out.dtype) / norm
    scale = 2.0 / norm
    g = g * scale
    WT = W.transpose(1, 2).contiguous().view(inst * n, m)  # row-major: embedding_bag gathers rows (10x faster)
    dh = segment_sum(rows, inst * B, cols, WT, g, is_sorted=True).view(inst, B, m)  # G Wᵀ, sorted by row already
    order = torch.argsort(cols.int(), stable=True)  # int32 keys sort faster
    dWT = segment_sum(cols[order], inst * n, rows[order], h.reshape(inst * B, m), g[order],
                      is_sorted=True).view(inst, n, m)
    dWT.index_put_((batch.inst, batch.feat), dh[batch.inst, batch.row] * batch.value[:, None], accumulate=True)
    db = torch.bincount(cols, weights=g, minlength=inst * n).view(inst, n).to(out.dtype)
    return loss, {"W": dWT.transpose(1, 2).contiguous(), "b": db}


def instance_part(batch: SparseBatch, i: int) -> SparseBatch:
    """Instance ``i``'s entries of ``batch``, as a batch of one instance."""
    keep = batch.inst == i
    return SparseBatch(torch.zeros_like(batch.inst[keep]), batch.row[keep], batch.feat[keep], batch.value[keep],
                       (1,) + batch.shape[1:])


def train_chunk(job: ChunkJob) -> None:
    """Train in a single-threaded worker, the instances of each step on ``job.threads`` single-threaded workers (one
    instance per task: its gradients, γ and its own fused AdamW step, elementwise the same update as one optimizer
    over all instances): no op uses a team of threads, whose idle members would spin between the small ops of a step
    (measured: 6x the CPU time at two threads); the same numbers on any number of threads; the caller's thread
    settings stay as they are. (Drawing the next batch while the workers step was slower on 2 cores: 221 against 241
    steps/s at m = 16.)"""
    workers = min(job.threads, job.density.shape[0])

    def main(w: threads.Workers) -> None:
        if workers == 1:
            _train(job, w, None)
            return
        with threads.Workers(workers, 1, name="tms-sparse") as pool:
            _train(job, w, pool)

    threads.call(main, 1)


class _Instance:
    """One instance's parameters (tensors of its own, leading axis 1), its AdamW and its step."""

    def __init__(self, job: ChunkJob, i: int, importance: Tensor | None):
        self.i, self.recipe = i, job.recipe
        self.params = {k: v[i:i + 1].clone() for k, v in job.params.items()}
        self.opt = make_optimizer(list(self.params.values()), job.recipe, fused=True)  # 40-70 µs a step, not 100-150
        self.importance = None if importance is None else importance[i:i + 1]
        self.linear = job.model == "linear"

    def step(self, batch: SparseBatch, lr: float, want_loss: bool) -> Tensor | None:
        loss, grads = loss_and_grads(self.params, instance_part(batch, self.i), self.importance, self.linear,
                                     want_loss)
        for k, v in self.params.items():
            v.grad = grads[k]
        for group in self.opt.param_groups:
            group["lr"] = lr
        if self.recipe.gamma is not None:
            gamma_decay_(self.params["W"], lr, self.recipe.gamma, self.recipe.eps)
        self.opt.step()
        return loss


def _train(job: ChunkJob, workers: threads.Workers, pool: threads.Workers | None) -> None:
    recipe = job.recipe
    importance = None if bool((job.importance == 1).all()) else job.importance
    instances = [_Instance(job, i, importance) for i in range(job.density.shape[0])]
    scheduled = not is_constant(recipe)

    def params() -> Params:
        return {k: torch.cat([inst.params[k] for inst in instances]).detach().clone() for k in job.params}

    snapshots = set(job.snapshot_steps)
    if 0 in snapshots:
        job.on_snapshot(0, params())
    for step in range(1, recipe.steps + 1):
        workers.check()
        batch = sample_sparse(job.density, recipe.batch_size, job.generator, job.value_max)
        logs = step % recipe.log_every == 0 or step == recipe.steps
        lr = learning_rate(recipe, step) if scheduled else recipe.lr
        tasks = [lambda inst=inst, batch=batch, lr=lr, logs=logs: inst.step(batch, lr, logs) for inst in instances]
        losses = [task() for task in tasks] if pool is None else pool.run(tasks)
        if logs:
            job.on_log(step, torch.cat(losses))
        if step in snapshots:
            job.on_snapshot(step, params())
        job.on_steps(1)
    for k, v in params().items():
        job.params[k].copy_(v)
