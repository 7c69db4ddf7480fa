"""Steps per second of the scaling section's models (BEYOND.md SCALE): tms's sparse engine against a plain eager loop
of the same model, in one process.

The model and data are Liu, Liu & Gore 2025's: n = 1000 features of frequency p_i ∝ i^−α (Σ p_i = 1), values
U(0, 2), x' = ReLU(WᵀW x + b), mean squared error, AdamW at lr 1e-2 with their γ on W (γ = −1: the norm pull),
warm-up and cosine decay. Two models (α = 1.5 and 2) train together, at batch 1024, for each width m.

- **Eager baseline** (standalone, no tms): written as their exp-10 trains, one tensor ``W [inst, hidden, feat]``,
  a dense batch from two ``torch.rand`` draws per element, einsum forward, autograd, ``torch.optim.AdamW``
  (weight decay 0) after their γ operator, the learning rate set every step.
- **tms**: ``tms.engines.sparse`` through a ``ChunkJob``, as ``tms.train`` hands it the run (sparse batches, hand-written
  gradients, one worker per model).

Each side trains its own two models through a whole run of the section's default length (3 000 steps: warm-up,
then cosine decay), one side after the other (the baseline first, then tms; run it on a quiet machine and note
the load); the table gives the steps per second over the whole run (wall clock) and the CPU seconds per step
(user + system of this process, all threads). A whole run matters: the sparse engine's backward follows the ReLU
output's sparsity, which grows as the models train (about half the outputs are positive at the start, 0.5 % at
the end). The baseline's thread count (1 or torch's default) is the faster of the two on a short probe.

    python benchmarks/bench_scaling.py                  # m = 16 and 64, 3 000 steps (~5 min)
    python benchmarks/bench_scaling.py --total 600      # a shorter run (its warm-up is a tenth of it)
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import time

import torch

from tms.config import Recipe, RunConfig
from tms.engines import ChunkJob, get_engine
from tms.train import initial_params

N, ALPHAS, BATCH, LR, GAMMA, EPS = 1000, (1.5, 2.0), 1024, 1e-2, -1.0, 1e-8


def densities(alpha: float) -> torch.Tensor:
    p = torch.arange(1, N + 1, dtype=torch.float64) ** -alpha
    return (p / p.sum()).float()


class EagerLoop:
    """The plain eager loop (their exp-10 and adamw.py, batched over the two models)."""

    def __init__(self, m: int, steps: int, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.W = torch.nn.Parameter(torch.randn(len(ALPHAS), m, N, generator=g) / math.sqrt(m))
        self.b = torch.nn.Parameter(torch.randn(len(ALPHAS), N, generator=g))
        self.opt = torch.optim.AdamW([self.W, self.b], lr=LR, weight_decay=0.0)
        self.p = torch.stack([densities(a) for a in ALPHAS])[:, None, :]
        self.g, self.steps, self.step_no = g, steps, 0

    def lr(self) -> float:
        s, warm = self.step_no, self.steps // 10
        if s < warm:
            return LR * s / warm
        return 0.05 * LR + 0.95 * LR * 0.5 * (1 + math.cos(math.pi * (s - warm) / (self.steps - warm)))

    def train(self, k: int) -> None:
        for _ in range(k):
            self.step_no += 1
            x = (torch.rand(len(ALPHAS), BATCH, N, generator=self.g) < self.p).float() \
                * torch.rand(len(ALPHAS), BATCH, N, generator=self.g) * 2
            h = torch.einsum("ibf,ihf->ibh", x, self.W)
            out = torch.relu(torch.einsum("ibh,ihf->ibf", h, self.W) + self.b[:, None, :])
            loss = ((out - x) ** 2).mean(dim=(1, 2)).sum()
            self.opt.zero_grad()
            loss.backward()
            lr = self.lr()
            self.opt.param_groups[0]["lr"] = lr
            with torch.no_grad():
                norms = self.W.norm(dim=1, keepdim=True) + EPS
                self.W.add_(self.W * (1 - 1 / norms), alpha=lr * GAMMA)
            self.opt.step()


def tms_trainer(m: int, steps: int, threads: int):
    """A whole run of the two models on tms's sparse engine, as ``tms.train`` hands it one chunk."""
    config = RunConfig.power_law(N, m, ALPHAS, value_max=2.0, recipe=Recipe(
        steps=steps, batch_size=BATCH, lr=LR, gamma=GAMMA, schedule="cosine", warmup_steps=steps // 10,
        init="scaling", log_every=steps))
    engine = get_engine("auto", config.model, config.data, config.extensions(), config.recipe.optimizer)
    assert engine.name == "sparse", engine.name
    density = torch.tensor(config.instance_density())

    def train(k: int) -> None:
        assert k == steps
        job = ChunkJob(params=initial_params(config), importance=torch.ones_like(density), density=density,
                       model="relu", data="independent", recipe=config.recipe,
                       generator=torch.Generator().manual_seed(1), value_max=2.0, threads=threads)
        engine.train_chunk(job)

    return train


def timed(fn, k: int) -> tuple[float, float]:
    """(steps per second, CPU seconds per step) of ``fn(k)``."""
    c0, t0 = time.process_time(), time.perf_counter()
    fn(k)
    return k / (time.perf_counter() - t0), (time.process_time() - c0) / k


def machine() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--total", type=int, default=3000, help="steps of the whole run (its schedule's length)")
    args = ap.parse_args()
    default_threads = torch.get_num_threads()
    print(f"# {datetime.date.today()}, {machine()}, torch {torch.__version__}, {default_threads} torch threads; "
          f"n = {N}, 2 models (α = 1.5, 2), batch {BATCH}, γ = {GAMMA:g}, whole runs of {args.total} steps; "
          f"load average {os.getloadavg()[0]:.2f}")
    print("| m | eager steps/s (threads) | eager CPU ms/step | tms sparse steps/s | tms CPU ms/step | speed-up "
          "(steps/s) | CPU-time ratio |")
    print("|---|---|---|---|---|---|---|")
    for m in args.widths:
        probe: dict[int, float] = {}
        loops = {t: EagerLoop(m, args.total).train for t in sorted({1, default_threads})}
        for rnd in range(3):  # the baseline's faster thread count: 3 alternating probes of 20 steps (1 warm-up)
            for t, fn in loops.items():
                torch.set_num_threads(t)
                rate = timed(fn, 20)[0]
                if rnd:
                    probe[t] = probe.get(t, 0.0) + rate
        eager_threads = max(probe, key=probe.get)
        torch.set_num_threads(eager_threads)
        e = timed(EagerLoop(m, args.total).train, args.total)
        torch.set_num_threads(default_threads)
        t = timed(tms_trainer(m, args.total, default_threads), args.total)
        print(f"| {m} | {e[0]:.1f} ({eager_threads}) | {e[1] * 1e3:.1f} | {t[0]:.1f} | {t[1] * 1e3:.1f} | "
              f"{t[0] / e[0]:.1f}x | {e[1] / t[1]:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
