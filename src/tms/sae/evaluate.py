"""Scoring trained SAEs against their source's ground truth on fresh activations (BEYOND.md SAE, Metrics).

:func:`evaluate` draws evaluation batches from the source (its own generator) and gives one row per SAE with the
measures of :mod:`tms.sae.metrics`: MMCS, MCC (Hungarian, over the source's true directions: a run source holds
only the represented features), the share recovered at |cos| ≥ 0.99, L0 and the true L0, dead latents over the
evaluation stream, explained variance and shrinkage (Σ‖ĥ‖ / Σ‖h‖).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from ..engines.threads import call
from ..errors import ConfigError
from ..tables import Column, Schema
from . import metrics
from .sources import ActivationSource, as_source
from .train import SAE

EVAL = Schema("sae_eval.csv", (
    Column("sae", "int"), Column("family", "str"), Column("d_sae", "int"), Column("k", "int"),
    Column("penalty", "float"), Column("seed", "int"), Column("init", "str"),
    Column("mmcs", "float"), Column("mcc", "float"), Column("recovered", "float"), Column("l0", "float"),
    Column("true_l0", "float"), Column("dead", "int"), Column("explained_variance", "float"),
    Column("shrinkage", "float"),
), doc="one row per SAE: recovery of the source's true directions, sparsity and reconstruction on fresh samples")


def config_columns(sae: SAE) -> dict[str, Any]:
    c = sae.config
    return {"family": c.family, "d_sae": c.d_sae, "k": c.k, "penalty": c.penalty, "seed": c.seed, "init": c.init}


def evaluate(saes: SAE | Sequence[SAE], source: Any, batches: int = 8, batch_size: int = 4096,
             seed: int = 12345) -> list[dict[str, Any]]:
    """One row per SAE (:data:`EVAL`'s columns) from ``batches`` fresh batches of the source (in a worker thread
    with one intra-op thread, as :func:`tms.sae.train.train`). The source as :func:`tms.sae.train.train` takes it:
    an activation source, a run folder's path or a result of the Python API."""
    source = as_source(source)
    saes = [saes] if isinstance(saes, SAE) else list(saes)
    if not saes or not all(isinstance(s, SAE) for s in saes):
        raise ConfigError("saes must be one SAE or a non-empty list of them (tms.sae.train's result)")
    for name, value in (("batches", batches), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
    widths = {s.W_dec.shape[1] for s in saes}
    if widths != {source.d_in}:
        raise ConfigError(f"the SAEs read activations of width {', '.join(map(str, sorted(widths)))}, the source "
                          f"gives {source.d_in}: score them on the source they were trained on")
    return call(lambda workers: _evaluate(saes, source, batches, batch_size, seed), 1)


@torch.no_grad()
def _evaluate(saes: Sequence[SAE], source: ActivationSource, batches: int, batch_size: int, seed: int
              ) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(seed)
    F = source.directions.float()
    n = len(saes)
    l0 = torch.zeros(n, dtype=torch.float64)
    fired = torch.zeros(n, max(s.config.d_sae for s in saes), dtype=torch.bool)
    sq_err = torch.zeros(n, dtype=torch.float64)
    norm_hat = torch.zeros(n, dtype=torch.float64)
    total_var, norm_h, true_l0, count = 0.0, 0.0, 0.0, 0
    for _ in range(batches):
        h, x = source.sample(batch_size, gen)
        h = h.float()
        true_l0 += float(metrics.l0(x)) * len(h)
        total_var += float((h.double() - h.double().mean(0)).pow(2).sum())
        norm_h += float(h.double().norm(dim=1).sum())
        for i, s in enumerate(saes):
            f = s.encode(h)
            h_hat = s.decode(f)
            l0[i] += float(metrics.l0(f)) * len(h)
            fired[i, : s.config.d_sae] |= metrics.ever_fired(f)
            sq_err[i] += float((h - h_hat).double().pow(2).sum())
            norm_hat[i] += float(h_hat.double().norm(dim=1).sum())
        count += len(h)
    rows = []
    for i, s in enumerate(saes):
        D = s.W_dec.float()
        rows.append({"sae": i, **config_columns(s), "mmcs": float(metrics.mmcs(F, D)),
                     "mcc": float(metrics.mcc(F, D)), "recovered": float(metrics.recovered_share(F, D)),
                     "l0": float(l0[i]) / count, "true_l0": true_l0 / count,
                     "dead": int(s.config.d_sae - fired[i, : s.config.d_sae].sum()),
                     "explained_variance": 1.0 - float(sq_err[i]) / total_var,
                     "shrinkage": float(norm_hat[i]) / norm_h})
    return rows
