"""Batched SAE training against a plain eager loop and SAELens's toy trainer (issue 22): CPU time per SAE-step for
16 TopK SAEs of 30 → 400 (k = 4) at batch 1024 on the hidden activations of a 400 → 30 toy model at p = 0.01,

- ours: ``tms.sae.train(engine='fast')``, the 16 SAEs as one bank (hand-written gradients, sparse after the
  encoder; with numba installed, the ``fast`` extra, the compiled TopK kernel of :mod:`tms.sae.kernels`, and
  ``TMS_SAE_KERNELS=0`` times the torch path instead), one activation batch per step;
- eager: the same SAEs one at a time through autograd and torch.optim.Adam (``engine='eager'``, the reference);
- SAELens: ``sae_lens.synthetic.train_toy_sae`` on one ``TopKTrainingSAE`` (k = 4, its AuxK on), fed by a
  ``FeatureDictionary`` holding the same model's represented directions and an ``ActivationGenerator`` at its
  densities with U(0, 1) magnitudes (:mod:`tms.sae.saelens`), i.e. the same activations' distribution.

CPU time (``time.process_time``, user + system of this process) on one torch thread, all three in one run and in
turn for ``--rounds`` rounds (medians reported), so the ratios hold on a shared machine whose speed drifts. By
default ours and the eager loop draw from the run's source each step (:class:`~tms.sae.sources.RunSource`, by the
active entries: 0.8 ms, shared by the 16 SAEs); with ``--replay`` they train on the same 8 pre-drawn batches, the
SAE step alone (SAELens's trainer draws its own either way). Run from the repository root::

    python benchmarks/bench_sae.py              # three rounds, a minute and a half on an idle core
    python benchmarks/bench_sae.py --replay     # ours and the eager loop on the same pre-drawn batches
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import tempfile
import time
from pathlib import Path

import torch
from bench_engine import machine  # noqa: E402  (same folder)

from tms.config import Recipe, RunConfig
from tms.runs import save_run
from tms.sae import SAEConfig, SAETraining, kernels, train
from tms.sae.sources import RunSource
from tms.train import train as train_model

N_SAES, D_SAE, K, BATCH = 16, 400, 4, 1024


def source(folder: Path) -> RunSource:
    cfg = RunConfig.uniform(400, 30, [0.01], 1.0, recipe=Recipe(steps=2000))
    save_run(folder / "run", cfg, train_model(cfg, threads=1))
    return RunSource(folder / "run")


class Replay:
    """The source's activations drawn once (``batches`` batches) and replayed in turn: the same activations for
    ours and the eager loop, and neither pays the source's sampling inside its timing (``--replay``)."""

    def __init__(self, src: RunSource, batches: int = 8):
        gen = torch.Generator().manual_seed(0)
        self.d_in, self.directions, self._src = src.d_in, src.directions, src
        self._batches = [src.sample(BATCH, gen) for _ in range(batches)]
        self._next = 0

    def sample(self, batch: int, generator: torch.Generator):
        out = self._batches[self._next % len(self._batches)]
        self._next += 1
        return out

    def describe(self) -> dict:
        return {"kind": "replay", "of": self._src.describe()}


def ours(src: RunSource, engine: str, steps: int) -> float:
    """CPU seconds per SAE-step of 16 SAEs trained together."""
    configs = [SAEConfig("topk", D_SAE, k=K, lr=3e-4, seed=s) for s in range(N_SAES)]
    t = time.process_time()
    train(src, configs, SAETraining(steps=steps, batch_size=BATCH), engine=engine)
    return (time.process_time() - t) / (steps * N_SAES)


def saelens(src: RunSource, steps: int) -> float:
    """CPU seconds per SAE-step of SAELens's toy trainer on one TopK SAE."""
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig
    from sae_lens.synthetic import train_toy_sae

    from tms.sae.saelens import activation_generator, feature_dictionary

    sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=src.d_in, d_sae=D_SAE, k=K))
    fd = feature_dictionary(src.directions)
    gen = activation_generator(src.density[0, src.represented])
    torch.manual_seed(0)
    t = time.process_time()
    train_toy_sae(sae, fd, gen, training_samples=steps * BATCH, batch_size=BATCH, lr=3e-4)
    return (time.process_time() - t) / steps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of all three sides in turn; the medians are reported (the host's speed drifts)")
    ap.add_argument("--replay", action="store_true",
                    help="ours and the eager loop train on 8 pre-drawn batches in turn: the SAE step alone, without "
                         "the source's sampling (SAELens's trainer still draws its own)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    times: dict[str, list[float]] = {"fast": [], "eager": [], "lens": []}
    with tempfile.TemporaryDirectory() as tmp:
        run = source(Path(tmp))
        src = Replay(run) if args.replay else run
        ours(src, "fast", 5)  # warm-up (and the kernel's compilation, when it is not cached)
        for _ in range(args.rounds):
            times["fast"].append(ours(src, "fast", args.steps))
            times["eager"].append(ours(src, "eager", args.steps))
            times["lens"].append(saelens(run, args.steps))
    fast, eager, lens = (statistics.median(times[k]) for k in ("fast", "eager", "lens"))
    ratios = lambda k: ", ".join(f"{b / a:.1f}" for a, b in zip(times["fast"], times[k]))  # noqa: E731
    print(f"# {datetime.date.today()} {machine()}")
    print(f"# compiled TopK kernel (tms.sae.kernels, numba): {'on' if kernels.available() else 'off'}")
    print(f"# medians of {args.rounds} rounds of {args.steps} steps"
          + ("; ours and eager on 8 pre-drawn batches (--replay)" if args.replay else "; every side samples"))
    print(f"ours (16 SAEs batched): {1e3 * fast:.2f} ms CPU per SAE-step")
    print(f"eager loop:             {1e3 * eager:.2f} ms  ({eager / fast:.1f}x ours; per round {ratios('eager')})")
    print(f"SAELens train_toy_sae:  {1e3 * lens:.2f} ms  ({lens / fast:.1f}x ours; per round {ratios('lens')})")


if __name__ == "__main__":
    main()
