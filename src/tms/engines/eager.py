"""The reference engine: the companion notebook's recipe in plain eager PyTorch (autograd + AdamW, or the
recipe's other optimizer), for every model family and data distribution."""

from __future__ import annotations

import torch

from ..data import get_distribution
from ..model import get_family
from ..config import Recipe
from . import ChunkJob, threads


def make_optimizer(params: list[torch.Tensor], recipe: Recipe) -> torch.optim.Optimizer:
    """The recipe's optimizer (:data:`tms.kinds.OPTIMIZERS`) as its ``torch.optim`` class."""
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    cls = torch.optim.Adam if recipe.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=recipe.lr, betas=recipe.betas, eps=recipe.eps, weight_decay=recipe.weight_decay)


def train_chunk(job: ChunkJob) -> None:
    """Train in a worker thread whose ops use ``job.threads`` threads (the caller's setting stays as it is)."""
    threads.call(lambda workers: _train(job, workers), job.threads)


def _train(job: ChunkJob, workers: threads.Workers) -> None:
    family = get_family(job.model)
    sample = get_distribution(job.data).bind(job.feature_sets)
    recipe = job.recipe
    params = {k: torch.nn.Parameter(v.clone()) for k, v in job.params.items()}
    opt = make_optimizer(list(params.values()), recipe)
    snapshots = set(job.snapshot_steps)
    if 0 in snapshots:
        job.on_snapshot(0, {k: v.detach().clone() for k, v in params.items()})
    for step in range(1, recipe.steps + 1):
        workers.check()
        x = sample(job.density, recipe.batch_size, job.generator)
        losses = family.loss(params, x, job.importance)
        opt.zero_grad(set_to_none=True)
        # Sum over instances: each instance's gradient is that of its own mean loss (PAPER.md §0).
        losses.sum().backward()
        opt.step()
        if step % recipe.log_every == 0 or step == recipe.steps:
            job.on_log(step, losses.detach())
        if step in snapshots:
            job.on_snapshot(step, {k: v.detach().clone() for k, v in params.items()})
        job.on_steps(1)
    with torch.no_grad():
        for k, v in params.items():
            job.params[k].copy_(v)
