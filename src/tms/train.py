"""The trainer: init, instance chunking, seeding, logging and evaluation around an engine.

What defines a run is its :class:`~tms.config.RunConfig`; how it runs (device, engine, progress display)
is passed here and recorded in the run folder, never part of the config.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from .config import RunConfig
from .data import sample_features
from .engines import get_engine
from .errors import ConfigError, TMSError
from .model import forward, init_weights, weighted_mse

log = logging.getLogger(__name__)

#: Upper bound on elements of one ``[inst, batch, feat]`` activation tensor; instances are trained in
#: chunks below it so memory stays bounded however many models a sweep asks for. 2^21 float32 elements are
#: 8 MiB per tensor: a chunk (the eager engine's autograd graph, the evaluation batch) stays within some
#: tens of MiB, and a chunk still holds hundreds of small models, enough to keep every op wide. (The fast
#: engine splits a chunk further on the CPU so that a part's tensors stay in cache; see
#: ``tms.engines.fast.PART_ELEMENTS``.)
DEFAULT_CHUNK_ELEMENTS = 1 << 21

# Offsets that keep the init, training and evaluation random streams apart for the same seed.
_STREAM_INIT, _STREAM_TRAIN, _STREAM_EVAL = 0, 1, 2


@dataclass
class TrainResult:
    """Trained weights and what happened while training (all tensors on the CPU)."""

    W: Tensor
    """``[inst, hidden, feat]`` float32."""
    b: Tensor
    """``[inst, feat]`` float32."""
    final_loss: Tensor
    """``[inst]`` loss on fresh samples after training."""
    log_steps: list[int]
    """Steps at which training losses were recorded."""
    log_losses: Tensor
    """``[len(log_steps), inst]`` training-batch loss at those steps."""
    seconds: float
    device: str
    engine: str


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


def chunk_size(config: RunConfig, max_elements: int = DEFAULT_CHUNK_ELEMENTS) -> int:
    """Instances per chunk: as many as fit ``max_elements`` (batch x widest layer each), at least one."""
    per_instance = config.recipe.batch_size * max(config.n_features, config.n_hidden)
    return max(1, min(config.n_instances, max_elements // per_instance))


def initial_params(config: RunConfig) -> tuple[Tensor, Tensor]:
    """W and b at step 0, on the CPU, from the config's seed (independent of device and chunking)."""
    g = make_generator(config.seed, _STREAM_INIT, 0, torch.device("cpu"))
    # 'paper' init at the notebook's scale, one instance per setting, however many restarts (PAPER.md §0).
    W = init_weights(config.n_instances, config.n_hidden, config.n_features, config.recipe.init, g,
                     notebook_instances=len(config.density))
    b = torch.zeros(config.n_instances, config.n_features)
    return W, b


@torch.no_grad()
def evaluate(
    config: RunConfig, W: Tensor, b: Tensor, device: torch.device, max_elements: int = DEFAULT_CHUNK_ELEMENTS
) -> Tensor:
    """Per-instance loss ``[inst]`` on ``eval_batches`` fresh batches (a stream separate from training)."""
    density = torch.tensor(config.instance_density(), dtype=torch.float32)
    importance = torch.tensor(config.instance_importance(), dtype=torch.float32)
    size = chunk_size(config, max_elements)
    out = torch.empty(config.n_instances)
    for c, lo in enumerate(range(0, config.n_instances, size)):
        hi = min(lo + size, config.n_instances)
        g = make_generator(config.seed, _STREAM_EVAL, c, device)
        Wc, bc = W[lo:hi].to(device), b[lo:hi].to(device)
        dc, ic = density[lo:hi].to(device), importance[lo:hi].to(device)
        total = torch.zeros(hi - lo, device=device, dtype=torch.float64)
        for _ in range(config.recipe.eval_batches):
            x = sample_features(dc, config.recipe.batch_size, g)
            total += weighted_mse(forward(Wc, bc, x, config.activation), x, ic).double()
        out[lo:hi] = (total / config.recipe.eval_batches).float().cpu()
    return out


def train(
    config: RunConfig,
    *,
    device: str = "auto",
    engine: str = "auto",
    progress: bool | Callable[[int, int], None] = False,
    max_chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> TrainResult:
    """Train every instance of ``config``.

    ``progress`` is False (silent), True (a tqdm bar on stderr) or a callback ``(done, total)`` in steps
    summed over chunks.
    """
    dev = resolve_device(device)
    engine_name, engine_fn = get_engine(engine)
    start = time.perf_counter()
    W, b = initial_params(config)
    density = torch.tensor(config.instance_density(), dtype=torch.float32)
    importance = torch.tensor(config.instance_importance(), dtype=torch.float32)
    size = chunk_size(config, max_chunk_elements)
    chunks = list(range(0, config.n_instances, size))
    total_steps = config.recipe.steps * len(chunks)

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

    log_steps: list[int] = []
    log_rows: dict[int, Tensor] = {}
    log.info(
        "training %d instances (%d -> %d, %s) for %d steps on %s with the %s engine in %d chunk(s)",
        config.n_instances, config.n_features, config.n_hidden, config.activation,
        config.recipe.steps, dev, engine_name, len(chunks),
    )
    try:
        for c, lo in enumerate(chunks):
            hi = min(lo + size, config.n_instances)
            Wc = W[lo:hi].to(dev).contiguous()
            bc = b[lo:hi].to(dev).contiguous()
            g = make_generator(config.seed, _STREAM_TRAIN, c, dev)

            def on_log(step: int, losses: Tensor, lo: int = lo, hi: int = hi) -> None:
                if step not in log_rows:
                    log_steps.append(step)
                    log_rows[step] = torch.full((config.n_instances,), float("nan"))
                log_rows[step][lo:hi] = losses.detach().float().cpu()

            engine_fn(
                Wc, bc, importance[lo:hi].to(dev), density[lo:hi].to(dev), config.activation,
                config.recipe, g, on_log, on_steps,
            )
            W[lo:hi] = Wc.cpu()
            b[lo:hi] = bc.cpu()
    finally:
        if bar is not None:
            bar.close()
    final = evaluate(config, W, b, dev, max_chunk_elements)
    bad = (~torch.isfinite(final)).nonzero().flatten().tolist()
    if bad:
        # Refuse rather than store a run that every figure and claim would choke on.
        raise TMSError(
            f"training diverged: the final loss is not finite for {len(bad)} of {config.n_instances} instance(s) "
            f"(first: instance {bad[0]}); try a smaller lr (was {config.recipe.lr:g})"
        )
    seconds = time.perf_counter() - start
    log_steps.sort()
    log_losses = torch.stack([log_rows[s] for s in log_steps]) if log_steps else torch.empty(0, config.n_instances)
    log.info("trained in %.1fs; mean final loss %.5f", seconds, final.mean().item())
    return TrainResult(W=W, b=b, final_loss=final, log_steps=log_steps, log_losses=log_losses,
                       seconds=seconds, device=str(dev), engine=engine_name)
