"""SGLD LLC estimation: tms.llc (fast path, eager autograd reference) against devinterp 1.3.2, same model and
hyper-parameters.

The task: the c = 6, m = 2 toy model at each of its five k-gon critical points (6, 5⁺, 5, 4⁺, 4), n = 1 000 samples
x = μ e_i, full batch, ε = 1e-3, γ = 1, nβ = n / ln n, 8 chains per k-gon. tms samples all 40 chains as one batch
(fast: hand-written gradients; eager: the same steps with autograd); devinterp runs its chains one after another
(``estimate_learning_coeff_with_summary``, cores=1). Cost is CPU time (user + sys of this process) per chain-draw,
every side on one intra-op thread, in alternating rounds; the table gives the median round.

    python benchmarks/bench_llc.py                  # ~1-2 min on a quiet core
    python benchmarks/bench_llc.py --draws 500 --rounds 3
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from tms import exact, llc

NAMES = ("6", "5+", "5", "4+", "4")


def kgons() -> llc.Params:
    pairs = [exact.kgon(k, c=6, positive=p) for k, p in map(exact.parse_kgon, NAMES)]
    return {"W": torch.stack([W for W, _ in pairs]).float(), "b": torch.stack([b for _, b in pairs]).float()}


def cpu() -> float:
    return time.process_time()


def ours(x: torch.Tensor, center: llc.Params, config: llc.SGLD, eager: bool) -> tuple[float, list[float]]:
    t = cpu()
    est = llc.sample(llc.TiedReLU(x), center, config, eager=eager)
    return cpu() - t, [e.llc for e in est]


def theirs(x: torch.Tensor, center: llc.Params, config: llc.SGLD) -> tuple[float, list[float]]:
    t = cpu()
    out = [llc.reference_estimate(center["W"][i], center["b"][i], x, config)["llc"] for i in range(len(NAMES))]
    return cpu() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=300, help="draws per chain (default 300)")
    ap.add_argument("--chains", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    x = llc.one_hot_data(1000, 6, torch.Generator().manual_seed(0))
    center = kgons()
    config = llc.SGLD(draws=args.draws, chains=args.chains)
    per = len(NAMES) * args.chains * args.draws  # chain-draws per side and round
    times: dict[str, list[float]] = {"tms fast": [], "tms eager": [], "devinterp 1.3.2": []}
    values: dict[str, list[float]] = {}
    ours(x, center, llc.SGLD(draws=5, chains=2), False)  # warm-up
    for _ in range(args.rounds):
        for name, run in (("tms fast", lambda: ours(x, center, config, False)),
                          ("tms eager", lambda: ours(x, center, config, True)),
                          ("devinterp 1.3.2", lambda: theirs(x, center, config))):
            seconds, values[name] = run()
            times[name].append(seconds)
    base = statistics.median(times["devinterp 1.3.2"]) / per
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.chains} chains × "
          f"{args.draws} draws × {len(NAMES)} k-gons, median of {args.rounds} rounds, CPU time")
    print("| sampler | µs per chain-draw | speed-up vs devinterp | λ̂ (" + ", ".join(NAMES) + ") |")
    print("|---|---:|---:|---|")
    for name, ts in times.items():
        us = statistics.median(ts) / per
        print(f"| {name} | {us * 1e6:.1f} | {base / us:.1f}x | " + ", ".join(f"{v:.2f}" for v in values[name]) + " |")


if __name__ == "__main__":
    main()
