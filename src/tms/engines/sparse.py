"""The sparse engine: the tied ReLU (or linear) model on independent data whose features are mostly rare (Liu, Liu &
Gore 2025's frequency law, BEYOND.md SCALE), with hand-written gradients that never build the dense input.

A batch is its active entries (:func:`tms.data.sample_sparse`: the frequent features drawn densely, the rare ones
as per-feature counts placed in random rows). With x sparse, h = W x is a sum over the active entries, and the
gradient of the mean squared error with respect to the output's pre-activation is
G = 2/(B n) · I ⊙ (ReLU(pre) − x) ⊙ [pre > 0] = 2/(B n) · I ⊙ (ReLU(pre) − x·[pre > 0]): the dense ReLU output
minus x at the active entries only. What is dense is the decoder: pre = h W + b, its ReLU, and the two products
hᵀG and G Wᵀ. The optimizer is ``torch.optim.AdamW`` (the eager engine's), with the recipe's schedule and γ
(:mod:`tms.schedule`), so on the same batch both engines make the same update (tests/test_scaling_engine.py).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..data import SparseBatch, sample_sparse
from ..model import Params
from ..schedule import gamma_decay_, is_constant, learning_rate
from . import ChunkJob, threads
from .eager import make_optimizer


def hidden(W: Tensor, batch: SparseBatch) -> Tensor:
    """h = W x ``[inst, batch, hidden]`` from the active entries."""
    inst, B, _ = batch.shape
    h = torch.zeros(inst, B, W.shape[1], device=W.device, dtype=W.dtype)
    h.index_put_((batch.inst, batch.row), W[batch.inst, :, batch.feat] * batch.value[:, None], accumulate=True)
    return h


def loss_and_grads(params: Params, batch: SparseBatch, importance: Tensor | None, linear: bool = False,
                   want_loss: bool = True) -> tuple[Tensor | None, Params]:
    """Per-instance mean loss ``[inst]`` (None unless ``want_loss``) and the gradients of its sum over instances,
    for x' = ReLU(Wᵀ W x + b) (or without the ReLU); ``importance`` None means every I_i = 1."""
    W, b = params["W"], params["b"]
    inst, B, n = batch.shape
    h = hidden(W, batch)
    out = torch.baddbmm(b[:, None, :], h, W)  # pre-activation [inst, B, n]
    if not linear:
        out.relu_()
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
        loss = total.index_add(0, batch.inst, correction) / (B * n)
    # G (up to 2/(B n)) = I ⊙ (out − x·[pre > 0]); out is 0 where pre ≤ 0 already
    keep = batch.value if linear else batch.value * (out_active > 0)
    G = out if importance is None else out.mul_(importance[:, None, :])
    if importance is not None:
        keep = keep * importance[batch.inst, batch.feat]
    G.index_put_(at, -keep, accumulate=True)
    scale = 2.0 / (B * n)
    dW = torch.bmm(h.transpose(1, 2), G)  # decoder side [inst, hidden, n]
    dh = torch.bmm(G, W.transpose(1, 2))  # [inst, B, hidden]
    dW.transpose(1, 2).index_put_((batch.inst, batch.feat), dh[batch.inst, batch.row] * batch.value[:, None],
                                  accumulate=True)  # encoder side, over the active entries
    return loss, {"W": dW.mul_(scale), "b": G.sum(dim=1).mul_(scale)}


def instance_part(batch: SparseBatch, i: int) -> SparseBatch:
    """Instance ``i``'s entries of ``batch``, as a batch of one instance."""
    keep = batch.inst == i
    return SparseBatch(torch.zeros_like(batch.inst[keep]), batch.row[keep], batch.feat[keep], batch.value[keep],
                       (1,) + batch.shape[1:])


def _per_instance(run_all, params: Params, batch: SparseBatch, importance: Tensor | None,
                  linear: bool, want_loss: bool) -> tuple[Tensor | None, Params]:
    """:func:`loss_and_grads` instance by instance (``run_all(tasks)``: on the workers, each single-threaded, or one
    after the other): the same numbers for any number of threads, and the instances of a run side by side."""
    def one(i: int):
        part = {k: v[i:i + 1] for k, v in params.items()}
        return loss_and_grads(part, instance_part(batch, i), None if importance is None else importance[i:i + 1],
                              linear, want_loss)

    results = run_all([lambda i=i: one(i) for i in range(batch.shape[0])])
    loss = torch.cat([r[0] for r in results]) if want_loss else None
    return loss, {k: torch.cat([r[1][k] for r in results]) for k in params}


def train_chunk(job: ChunkJob) -> None:
    """Train in a single-threaded worker, the instances of each step on ``job.threads`` single-threaded workers (one
    instance per task): no op uses a team of threads, whose idle members would spin between the small ops of a step
    (measured: 6x the CPU time at two threads); the caller's thread settings stay as they are."""
    workers = min(job.threads, job.density.shape[0])

    def serial(tasks):
        return [task() for task in tasks]

    def main(w: threads.Workers) -> None:
        if workers == 1:
            _train(job, w, serial)
            return
        with threads.Workers(workers, 1, name="tms-sparse") as pool:
            _train(job, w, pool.run)

    threads.call(main, 1)


def _train(job: ChunkJob, workers: threads.Workers, run_all) -> None:
    recipe = job.recipe
    params = {k: v.clone() for k, v in job.params.items()}
    opt = make_optimizer(list(params.values()), recipe)
    importance = None if bool((job.importance == 1).all()) else job.importance
    scheduled, linear = not is_constant(recipe), job.model == "linear"
    snapshots = set(job.snapshot_steps)
    if 0 in snapshots:
        job.on_snapshot(0, {k: v.clone() for k, v in params.items()})
    for step in range(1, recipe.steps + 1):
        workers.check()
        batch = sample_sparse(job.density, recipe.batch_size, job.generator, job.value_max)
        logs = step % recipe.log_every == 0 or step == recipe.steps
        loss, grads = _per_instance(run_all, params, batch, importance, linear, logs)
        for k, v in params.items():
            v.grad = grads[k]
        lr = learning_rate(recipe, step) if scheduled else recipe.lr
        if scheduled:
            for group in opt.param_groups:
                group["lr"] = lr
        if recipe.gamma is not None:
            gamma_decay_(params["W"], lr, recipe.gamma, recipe.eps)
        opt.step()
        if logs:
            job.on_log(step, loss)
        if step in snapshots:
            job.on_snapshot(step, {k: v.clone() for k, v in params.items()})
        job.on_steps(1)
    for k, v in params.items():
        job.params[k].copy_(v)
