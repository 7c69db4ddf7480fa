"""What correlated feature sets cost (issue 12): steps per second of ``tms.train`` on the §4 collapse sweep's shape
(150 models of 6 -> 2, three correlated pairs) with

- the fast engine drawing the sets (its SetSampler),
- the eager reference engine (autograd, torch.optim.AdamW, ``tms.data.sample_sets``) on the same config,
- the fast engine on the same shape with independent features (what the sets cost it),

and the same for the m = 10 case (4 models of 20 -> 10, two correlated sets of 10). Whole ``train`` calls
(evaluation included) at ``--steps`` steps, best of ``--rounds`` rounds, in this process. Run from the repository
root::

    python benchmarks/bench_sets.py              # about two minutes
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import time

import torch
from bench_engine import load, machine  # noqa: E402  (same folder)

from tms.config import Recipe, RunConfig
from tms.train import train


def config(n: int, m: int, densities: list[float], sets: list[str], restarts: int, steps: int) -> RunConfig:
    return RunConfig(n_features=n, n_hidden=m, density=[[p] * n for p in densities],
                     importance=[[1.0] * n for _ in densities], data="sets" if sets else "independent",
                     feature_sets=sets, restarts=restarts, recipe=Recipe(steps=steps))


def rate(cfg: RunConfig, engine: str, rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        t = time.perf_counter()
        train(cfg, engine=engine, device="cpu")
        best = max(best, cfg.recipe.steps / (time.perf_counter() - t))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    collapse = [0.01 * 50 ** (k / 14) for k in range(15)]
    cases = {
        "collapse sweep: 150 x 6 -> 2, three correlated pairs": config(
            6, 2, collapse, [f"correlated:{2 * k},{2 * k + 1}" for k in range(3)], 10, args.steps),
        "m = 10: 4 x 20 -> 10, two correlated sets of 10": config(
            20, 10, [0.03], ["correlated:" + ",".join(map(str, range(10))),
                             "correlated:" + ",".join(map(str, range(10, 20)))], 4, args.steps),
    }
    train(dataclasses.replace(cases[next(iter(cases))], recipe=Recipe(steps=20)))  # warm-up (TorchScript)
    print(f"# feature sets, {datetime.date.today()}: {machine()}; load {load()}; {args.steps} steps per train call, "
          f"best of {args.rounds}\n")
    print("| config | fast, sets (steps/s) | eager, sets | fast / eager | fast, independent | sets / independent |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, cfg in cases.items():
        fast = rate(cfg, "fast", args.rounds)
        eager = rate(cfg, "eager", 1)
        indep = rate(dataclasses.replace(cfg, data="independent", feature_sets=()), "fast", args.rounds)
        print(f"| {name} | {fast:.0f} | {eager:.0f} | {fast / eager:.1f}x | {indep:.0f} | {fast / indep:.2f} |")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
