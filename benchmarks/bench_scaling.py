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

Rounds alternate between the two so that both see the same machine load; the table gives the median round's
steps per second (wall clock) and the CPU seconds per step (user + system of this process, all threads). The
baseline is timed at 1 thread and at torch's default and credited with the faster.

    python benchmarks/bench_scaling.py                 # m = 16 and 64, 5 rounds of 100 steps (~2 min)
    python benchmarks/bench_scaling.py --rounds 3 --steps 50
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import statistics
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
    config = RunConfig.power_law(N, m, ALPHAS, value_max=2.0, recipe=Recipe(
        steps=steps, batch_size=BATCH, lr=LR, gamma=GAMMA, schedule="cosine", warmup_steps=steps // 10,
        init="scaling", log_every=steps))
    engine = get_engine("auto", config.model, config.data, config.extensions(), config.recipe.optimizer)
    assert engine.name == "sparse", engine.name
    params = initial_params(config)
    density = torch.tensor(config.instance_density())

    def train(k: int) -> None:
        job = ChunkJob(params=params, importance=torch.ones_like(density), density=density, model="relu",
                       data="independent", recipe=Recipe(**{**config.recipe.__dict__, "steps": k,
                                                            "warmup_steps": min(config.recipe.warmup_steps, k - 1),
                                                            "log_every": k}),
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
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=100, help="steps per round")
    args = ap.parse_args()
    default_threads = torch.get_num_threads()
    print(f"# {datetime.date.today()}, {machine()}, torch {torch.__version__}, {default_threads} torch threads; "
          f"n = {N}, 2 models (α = 1.5, 2), batch {BATCH}, γ = {GAMMA:g}, {args.rounds} rounds of {args.steps} "
          "steps, medians")
    print("| m | eager steps/s (threads) | eager CPU ms/step | tms sparse steps/s | tms CPU ms/step | speed-up "
          "(steps/s) | CPU-time ratio |")
    print("|---|---|---|---|---|---|---|")
    for m in args.widths:
        rows: dict[str, list[tuple[float, float]]] = {}
        sides = {f"eager{t}": (t, EagerLoop(m, 20_000).train) for t in sorted({1, default_threads})}
        sides["tms"] = (default_threads, tms_trainer(m, 20_000, default_threads))
        for name, (threads, fn) in sides.items():  # warm-up
            torch.set_num_threads(threads)
            fn(5)
        for _ in range(args.rounds):
            for name, (threads, fn) in sides.items():
                torch.set_num_threads(threads)
                rows.setdefault(name, []).append(timed(fn, args.steps))
        torch.set_num_threads(default_threads)
        med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for k, v in rows.items()}
        best = max((k for k in med if k.startswith("eager")), key=lambda k: med[k][0])
        e, t = med[best], med["tms"]
        print(f"| {m} | {e[0]:.1f} ({best[5:]}) | {e[1] * 1e3:.1f} | {t[0]:.1f} | {t[1] * 1e3:.1f} | "
              f"{t[0] / e[0]:.1f}x | {e[1] / t[1]:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
