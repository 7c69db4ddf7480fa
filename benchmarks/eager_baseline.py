"""The paper recipe in plain eager PyTorch: the baseline the fast engine is measured against.

Standalone on purpose (imports nothing from ``tms``), written the way the paper's companion notebook
trains its toy models (PAPER.md §0):

- many instances in one tensor, ``W [inst, feat, hidden]``, Xavier-normal over the whole tensor, ``b = 0``;
- a fresh batch every step, laid out ``[batch, inst, feat]``, two uniform draws per element (one decides
  whether the feature is active, the other is its value);
- ``x' = ReLU(W^T W x + b)`` with einsum, loss = per-instance mean over batch and features of
  ``I_i (x_i - x'_i)^2``, summed over instances; autograd; ``torch.optim.AdamW`` (lr 1e-3, weight decay
  0.01, the PyTorch defaults otherwise).

As a script it trains one of the benchmark configs and saves the weights, so a whole process can be timed
against a whole ``tms train`` process::

    python benchmarks/eager_baseline.py intro --steps 10000 --out /tmp/intro.pt
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

import torch

# The four benchmark configs of issue 3. Each is (n_features, n_hidden, activation, density [inst, feat],
# importance [inst, feat]) built by BenchConfig.build(); see CONFIGS below.


@dataclass(frozen=True)
class BenchConfig:
    name: str
    n_features: int
    n_hidden: int
    activation: str
    density: tuple[tuple[float, ...], ...]
    importance: tuple[tuple[float, ...], ...]

    @property
    def n_instances(self) -> int:
        return len(self.density)


def _uniform(name: str, n: int, m: int, densities: list[float], decay: float, activation: str = "relu") -> BenchConfig:
    imp = tuple(decay**i for i in range(n))
    return BenchConfig(name, n, m, activation, tuple((p,) * n for p in densities), tuple(imp for _ in densities))


def _logspace(lo: float, hi: float, k: int) -> list[float]:
    return [lo * (hi / lo) ** (i / (k - 1)) for i in range(k)]


def _phase_grid() -> BenchConfig:
    # §3: 2 features -> 1 dimension; density p from 0.01 to 1 (log, 20 values) x relative importance r of
    # feature 2 from 0.1 to 10 (log, 20 values); the same p for both features.
    dens, imps = [], []
    for p in _logspace(0.01, 1.0, 20):
        for r in _logspace(0.1, 10.0, 20):
            dens.append((p, p))
            imps.append((1.0, r))
    return BenchConfig("s3", 2, 1, "relu", tuple(dens), tuple(imps))


CONFIGS: dict[str, BenchConfig] = {
    # Introduction figure: 10 x 5 -> 2, densities 20^-linspace(0, 1, 10), I_i = 0.9^i.
    "intro": _uniform("intro", 5, 2, [20 ** (-i / 9) for i in range(10)], 0.9),
    # §2: 7 x 20 -> 5, I_i = 0.7^i.
    "s2": _uniform("s2", 20, 5, [1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001], 0.7),
    # §3 phase grid: 400 x 2 -> 1.
    "s3": _phase_grid(),
    # §4 geometry: 20 x 200 -> 20, I = 1, densities log-spaced from 1 to 0.001 (1/(1-S) from 1 to 1000, the
    # range of the paper's uniform-superposition sweep).
    "s4": _uniform("s4", 200, 20, _logspace(1.0, 0.001, 20), 1.0),
    # §4 at the paper's size: 20 x 400 -> 30, the same densities (the geometry experiment's shape).
    "s4p": _uniform("s4p", 400, 30, _logspace(1.0, 0.001, 20), 1.0),
    # §7 privileged basis: the hidden-ReLU model h = ReLU(W x), x' = ReLU(W^T h + b), 10 -> 5, I_i = 0.75^i,
    # 20 densities from 1 to 0.01, 10 models each (the restarts a density needs).
    "s7": _uniform("s7", 10, 5, [p for p in _logspace(1.0, 0.01, 20) for _ in range(10)], 0.75, "hidden-relu"),
    # §8 computation in superposition: the untied model h = ReLU(W1 x), y' = ReLU(W2 h + b) computing |x| of
    # signed inputs (0 or U[-1, 1]), 100 -> 40, I_i = 0.8^i, the paper's seven densities.
    "s8": _uniform("s8", 100, 40, [1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001], 0.8, "untied-abs"),
}


class EagerModel(torch.nn.Module):
    """The companion notebook's model: ``W [inst, feat, hidden]``, einsum, ReLU output; for ``untied-abs`` a
    second matrix ``W2 [inst, hidden, feat]`` for the output layer, signed inputs and the target ``|x|``."""

    def __init__(self, cfg: BenchConfig, generator: torch.Generator | None = None):
        super().__init__()
        inst, n, m = cfg.n_instances, cfg.n_features, cfg.n_hidden

        def xavier() -> torch.Tensor:
            # xavier_normal_ on [inst, feat, hidden]: fan_in = n*m, fan_out = inst*m.
            return torch.empty(inst, n, m).normal_(0.0, math.sqrt(2.0 / (n * m + inst * m)), generator=generator)

        self.W = torch.nn.Parameter(xavier())
        self.untied = cfg.activation == "untied-abs"
        if self.untied:
            self.W2 = torch.nn.Parameter(xavier().transpose(1, 2).contiguous())
        self.b = torch.nn.Parameter(torch.zeros(inst, n))
        self.activation = cfg.activation
        self.register_buffer("density", torch.tensor(cfg.density, dtype=torch.float32))
        self.register_buffer("importance", torch.tensor(cfg.importance, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.einsum("bif,ifh->bih", x, self.W)
        if self.untied:  # §8: y' = ReLU(W2 ReLU(W1 x) + b)
            return torch.relu(torch.einsum("bih,ihf->bif", torch.relu(h), self.W2) + self.b)
        if self.activation == "hidden-relu":  # §7: a ReLU on the hidden layer too
            h = torch.relu(h)
        out = torch.einsum("bih,ifh->bif", h, self.W) + self.b
        return out if self.activation == "linear" else torch.relu(out)

    def generate_batch(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        shape = (batch_size, *self.density.shape)
        values = torch.rand(shape, generator=generator)
        if self.untied:  # signed: U[-1, 1]
            values = values * 2 - 1
        active = torch.rand(shape, generator=generator) <= self.density
        return torch.where(active, values, torch.zeros(()))


class EagerTrainer:
    """One optimiser step at a time, so a benchmark can warm up and then time steps."""

    def __init__(self, cfg: BenchConfig, batch_size: int = 1024, seed: int = 0):
        self.generator = torch.Generator().manual_seed(seed)
        self.model = EagerModel(cfg, self.generator)
        self.batch_size = batch_size
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-3, weight_decay=0.01)

    def step(self) -> torch.Tensor:
        x = self.model.generate_batch(self.batch_size, self.generator)
        out = self.model(x)
        target = x.abs() if self.model.untied else x
        error = self.model.importance * (target - out) ** 2
        loss_per_instance = error.mean(dim=(0, 2))
        self.opt.zero_grad(set_to_none=True)
        loss_per_instance.sum().backward()
        self.opt.step()
        return loss_per_instance.detach()

    def train(self, steps: int) -> torch.Tensor:
        loss = torch.empty(0)
        for _ in range(steps):
            loss = self.step()
        return loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", choices=CONFIGS)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="save W and b here (torch.save)")
    args = parser.parse_args()
    start = time.perf_counter()
    trainer = EagerTrainer(CONFIGS[args.config], args.batch_size, args.seed)
    loss = trainer.train(args.steps)
    if args.out:
        torch.save({"W": trainer.model.W.detach(), "b": trainer.model.b.detach()}, args.out)
    print(f"{args.config}: {args.steps} steps in {time.perf_counter() - start:.1f}s; "
          f"last-batch loss {loss.min():.5g}..{loss.max():.5g}")


if __name__ == "__main__":
    main()
