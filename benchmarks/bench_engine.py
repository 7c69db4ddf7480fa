"""Steps per second of the tms fast engine against the plain eager baseline (issue 3), on four configs.

Two measurements, both on whatever machine runs this:

1. **In-process** (always): the baseline (``benchmarks/eager_baseline.py``) and the tms fast engine train the
   same config in this process, after a warm-up, at batch 1024 with the paper recipe. Rounds alternate between
   the two so that both see the same machine load; the table shows the median round of each.
2. **Whole processes** (``--processes``, on by default): ``python benchmarks/eager_baseline.py CONFIG`` against
   ``tms train ...`` for the same config, from process start to exit (import, training, and for tms the
   evaluation and the run folder), at ``--steps`` steps (10 000 is the paper's length).

Run from the repository root::

    python benchmarks/bench_engine.py                    # both, processes at 2 000 steps (a few minutes)
    python benchmarks/bench_engine.py --steps 10000      # processes at the paper's length (~20 min)
    python benchmarks/bench_engine.py --no-processes     # in-process only (about a minute)
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from eager_baseline import CONFIGS, BenchConfig, EagerTrainer  # noqa: E402

from tms.config import Recipe  # noqa: E402
from tms.engines import ChunkJob, get_engine  # noqa: E402
from tms.train import DEFAULT_CHUNK_ELEMENTS  # noqa: E402

# Issue 3's targets: in-process speed-up, whole-process speed-up.
TARGETS = {"intro": (10, 6), "s2": (10, 6), "s3": (10, 6), "s4": (3, 3), "s4p": (3, 3), "s7": (5, 3), "s8": (5, 3)}
TITLES = {
    "intro": "intro: 10 x 5 -> 2",
    "s2": "§2: 7 x 20 -> 5",
    "s3": "§3 grid: 400 x 2 -> 1",
    "s4": "§4 geometry: 20 x 200 -> 20",
    "s4p": "§4 paper size: 20 x 400 -> 30",
    "s7": "§7 hidden ReLU: 200 x 10 -> 5",
    "s8": "§8 untied |x|: 7 x 100 -> 40",
}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"Python {platform.python_version()}")


def load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


class FastRunner:
    """The tms fast engine on one config, chunked exactly as ``tms.train.train`` chunks it."""

    def __init__(self, cfg: BenchConfig, batch_size: int = 1024):
        inst, n, m = cfg.n_instances, cfg.n_features, cfg.n_hidden
        g = torch.Generator().manual_seed(0)
        std = (2.0 / (m * (n + inst))) ** 0.5
        self.params = {"W": torch.randn(inst, m, n, generator=g) * std, "b": torch.zeros(inst, n)}
        self.data = "independent"
        if cfg.activation == "untied-abs":
            self.params = {"W1": self.params["W"], "W2": torch.randn(inst, n, m, generator=g) * std,
                           "b": self.params["b"]}
            self.data = "signed"
        self.engine = get_engine("auto", cfg.activation, self.data)
        self.density = torch.tensor(cfg.density, dtype=torch.float32)
        self.importance = torch.tensor(cfg.importance, dtype=torch.float32)
        per_instance = batch_size * max(n, m)
        limit = self.engine.chunk_elements.get("cpu", DEFAULT_CHUNK_ELEMENTS)
        self.size = inst if limit is None else max(1, min(inst, limit // per_instance))
        self.batch_size = batch_size
        self.activation = cfg.activation
        self.generator = torch.Generator().manual_seed(1)

    def train(self, steps: int) -> None:
        recipe = Recipe(steps=steps, batch_size=self.batch_size)
        for lo in range(0, self.importance.shape[0], self.size):
            hi = lo + self.size
            job = ChunkJob(params={k: v[lo:hi].clone() for k, v in self.params.items()},
                           importance=self.importance[lo:hi], density=self.density[lo:hi], model=self.activation,
                           data=self.data, recipe=recipe, generator=self.generator,
                           threads=torch.get_num_threads())
            self.engine.train_chunk(job)
            for k, v in self.params.items():
                v[lo:hi] = job.params[k]


def timed(fn, steps: int) -> float:
    """Steps per second of one call."""
    start = time.perf_counter()
    fn(steps)
    return steps / (time.perf_counter() - start)


def with_threads(threads: int, fn, steps: int) -> float:
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return timed(fn, steps)
    finally:
        torch.set_num_threads(saved)


def in_process(names: list[str], seconds: float) -> list[dict]:
    """Median steps/s of 5 alternating rounds. The baseline runs at 1 thread and at the default thread count
    and is credited with the faster (on a busy machine its multi-threaded small ops can be far slower)."""
    threads = torch.get_num_threads()
    eager_threads = sorted({1, threads})
    rows = []
    for name in names:
        cfg = CONFIGS[name]
        eager = EagerTrainer(cfg)
        fast = FastRunner(cfg)
        # Warm-up (allocator, MKL kernels, thread pools), then size each round to about seconds / 10 per side.
        for t in eager_threads:
            with_threads(t, eager.train, 3)
        fast_rate = timed(fast.train, 20)
        eager_rate = max(with_threads(t, eager.train, 5) for t in eager_threads)
        fast_rate = timed(fast.train, max(20, int(fast_rate * 0.3)))
        eager_steps = max(3, int(eager_rate * seconds / 10 / len(eager_threads)))
        fast_steps = max(20, int(fast_rate * seconds / 10))
        eager_rates: dict[int, list[float]] = {t: [] for t in eager_threads}
        fast_rates = []
        for _ in range(5):
            for t in eager_threads:
                eager_rates[t].append(with_threads(t, eager.train, eager_steps))
            fast_rates.append(timed(fast.train, fast_steps))
        best_t = max(eager_threads, key=lambda t: statistics.median(eager_rates[t]))
        row = {
            "config": name,
            "eager": statistics.median(eager_rates[best_t]),
            "eager_threads": best_t,
            "eager_by_threads": {t: statistics.median(v) for t, v in eager_rates.items()},
            "fast": statistics.median(fast_rates),
        }
        row["ratio"] = row["fast"] / row["eager"]
        rows.append(row)
        by_t = ", ".join(f"{v:.1f} at {t} thr" for t, v in row["eager_by_threads"].items())
        print(f"  {TITLES[name]:<30} eager {row['eager']:8.1f}/s ({by_t})  fast {row['fast']:8.1f}/s  "
              f"x{row['ratio']:.1f}", flush=True)
    return rows


def tms_train_args(cfg: BenchConfig, steps: int, out: Path) -> list[str]:
    if cfg.name == "s3":
        # `tms train` takes one importance profile for all settings; the §3 grid's (1, r) importances differ
        # per instance but cost the same, so time 20 densities x 20 restarts with the same shapes instead.
        densities = sorted({row[0] for row in cfg.density})
        extra = ["--restarts", str(cfg.n_instances // len(densities)), "--importance-decay", "1"]
    else:
        densities = [row[0] for row in cfg.density]
        decay = cfg.importance[0][1] if cfg.n_features > 1 else 1.0
        extra = ["--importance-decay", repr(decay)]
    if cfg.activation == "untied-abs":
        extra += ["--data", "signed"]
    return (["tms", "train", "-n", str(cfg.n_features), "-m", str(cfg.n_hidden), "--model", cfg.activation,
             "--densities", *map(repr, densities), "--steps", str(steps), "--out", str(out), "--no-progress",
             "--force"] + extra)


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def processes(names: list[str], steps: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            cfg = CONFIGS[name]
            eager_cmd = [sys.executable, str(HERE / "eager_baseline.py"), name, "--steps", str(steps),
                         "--out", str(Path(tmp) / f"{name}.pt")]
            fast_cmd = tms_train_args(cfg, steps, Path(tmp) / name)
            fast_s = wall(fast_cmd)
            eager_s = wall(eager_cmd)
            rows.append({"config": name, "eager_s": eager_s, "fast_s": fast_s, "ratio": eager_s / fast_s})
            print(f"  {TITLES[name]:<30} eager script {eager_s:7.1f}s  tms train {fast_s:6.1f}s  x{eager_s / fast_s:.1f}",
                  flush=True)
    return rows


def markdown(inproc: list[dict], procs: list[dict], steps: int) -> str:
    lines = [
        f"Machine: {machine()}; load average at the end {load()}.",
        "",
        "In-process, batch 1024, paper recipe, after warm-up (median of 5 alternating rounds; the baseline at",
        "its faster thread count):",
        "",
        "| config | eager steps/s | fast steps/s | speed-up | target |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in inproc:
        lines.append(f"| {TITLES[r['config']]} | {r['eager']:.1f} ({r['eager_threads']} thr) | {r['fast']:.1f} | "
                     f"{r['ratio']:.1f}x | {TARGETS[r['config']][0]}x |")
    if procs:
        lines += [
            "",
            f"Whole processes at {steps} steps (start to exit; tms includes evaluation and writing the run folder):",
            "",
            "| config | eager script s | `tms train` s | speed-up | target (at 10 000 steps) |",
            "|---|---:|---:|---:|---:|",
        ]
        for r in procs:
            lines.append(f"| {TITLES[r['config']]} | {r['eager_s']:.1f} | {r['fast_s']:.1f} | {r['ratio']:.1f}x | "
                         f"{TARGETS[r['config']][1]}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="tms fast engine vs the eager baseline (issue 3)")
    parser.add_argument("configs", nargs="*", metavar="CONFIG", help=f"some of {', '.join(CONFIGS)} (default: all)")
    parser.add_argument("--seconds", type=float, default=8.0, help="in-process timing per config and side")
    parser.add_argument("--processes", action=argparse.BooleanOptionalAction, default=True,
                        help="also time whole processes (default: on)")
    parser.add_argument("--steps", type=int, default=2000, help="steps of the whole-process runs (paper: 10000)")
    args = parser.parse_args()
    names = args.configs or list(CONFIGS)
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown config {unknown[0]!r}; choose from {', '.join(CONFIGS)}")
    print(f"{datetime.date.today()}  {machine()}  load {load()}", flush=True)
    print("in-process (steps/s):", flush=True)
    inproc = in_process(names, args.seconds)
    procs = []
    if args.processes:
        print(f"whole processes ({args.steps} steps):", flush=True)
        procs = processes(names, args.steps)
    print()
    print(markdown(inproc, procs, args.steps))


if __name__ == "__main__":
    main()
