"""The reference engine: the companion notebook's recipe in plain eager PyTorch (autograd + AdamW, or the
recipe's other optimizer), for every model family, data distribution, loss, learning-rate schedule, γ decay
(Liu, Liu & Gore 2025) and finite dataset."""

from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor

from ..data import epoch_batches, get_distribution
from ..losses import get_loss
from ..model import get_family
from ..config import Recipe
from ..schedule import gamma_decay_, is_constant, learning_rate
from . import ChunkJob, threads


def make_optimizer(params: list[torch.Tensor], recipe: Recipe, fused: bool = False) -> torch.optim.Optimizer:
    """The recipe's optimizer (:data:`tms.kinds.OPTIMIZERS`) as its ``torch.optim`` class. With γ
    (:attr:`~tms.config.Recipe.gamma`) AdamW has no decay of its own: the engine applies γ's operator to W.
    ``fused``: torch's fused Adam/AdamW kernel (the same update up to rounding, 2x faster on small tensors)."""
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    cls = torch.optim.Adam if recipe.optimizer == "adam" else torch.optim.AdamW
    decay = 0.0 if recipe.gamma is not None else recipe.weight_decay
    kwargs = {"lr": recipe.lr, "betas": recipe.betas, "eps": recipe.eps, "weight_decay": decay}
    if fused:
        try:
            return cls(params, fused=True, **kwargs)
        except (RuntimeError, TypeError, ValueError):  # torch < 2.4 has no fused kernel on the CPU
            pass
    return cls(params, **kwargs)


def train_chunk(job: ChunkJob) -> None:
    """Train in a worker thread whose ops use ``job.threads`` threads (the caller's setting stays as it is)."""
    threads.call(lambda workers: _train(job, workers), job.threads)


def _dataset_batches(job: ChunkJob) -> Iterator[Tensor]:
    """Indices into the finite dataset, step after step, epoch after epoch."""
    size = job.dataset.shape[1]
    while True:
        yield from epoch_batches(size, job.recipe.batch_size, job.generator)


def _train(job: ChunkJob, workers: threads.Workers) -> None:
    family = get_family(job.model)
    sample = job.sample
    if sample is None:
        bound = get_distribution(job.data).bind(job.feature_sets)
        sample = lambda density, batch_size, generator: (bound(density, batch_size, generator), None)  # noqa: E731
    loss_fn, penalty = get_loss(job.recipe.loss), job.recipe.loss_penalty
    recipe = job.recipe
    params = {k: torch.nn.Parameter(v.clone()) for k, v in job.params.items()}
    opt = make_optimizer(list(params.values()), recipe)
    scheduled = not is_constant(recipe)
    batches = _dataset_batches(job) if job.dataset is not None else None
    snapshots = set(job.snapshot_steps)
    if 0 in snapshots:
        job.on_snapshot(0, {k: v.detach().clone() for k, v in params.items()})
    for step in range(1, recipe.steps + 1):
        workers.check()
        if batches is None:
            x, target = sample(job.density, recipe.batch_size, job.generator)
        else:
            idx = next(batches).to(job.dataset.device)
            x = job.dataset.index_select(1, idx)
            target = None if job.dataset_target is None else job.dataset_target.index_select(1, idx)
        losses = loss_fn(family, params, x, job.importance, target, penalty)
        opt.zero_grad(set_to_none=True)
        # Sum over instances: each instance's gradient is that of its own mean loss (PAPER.md §0).
        losses.sum().backward()
        lr = learning_rate(recipe, step) if scheduled else recipe.lr
        if scheduled:
            for group in opt.param_groups:
                group["lr"] = lr
        if recipe.gamma is not None:  # before the Adam step, on W only (Liu, Liu & Gore 2025's adamw.py)
            gamma_decay_(params["W"].data, lr, recipe.gamma, recipe.eps)
        opt.step()
        if step % recipe.log_every == 0 or step == recipe.steps:
            job.on_log(step, losses.detach())
            if job.test_x is not None:
                with torch.no_grad():
                    job.on_test(step, loss_fn(family, params, job.test_x, job.importance, job.test_target, penalty))
        if step in snapshots:
            job.on_snapshot(step, {k: v.detach().clone() for k, v in params.items()})
        job.on_steps(1)
    with torch.no_grad():
        for k, v in params.items():
            job.params[k].copy_(v)
