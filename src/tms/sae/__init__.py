"""Sparse autoencoders on toy models with known ground truth (BEYOND.md SAE; issue 22).

Where things are (the SAE core; metrics and SAELens interop are :mod:`tms.sae.metrics` and :mod:`tms.sae.saelens`):

- :mod:`tms.sae.config`: :class:`SAEConfig` (family from :data:`tms.kinds.SAE_FAMILIES`, ``d_sae``, ``k``,
  ``penalty`` (L1 for relu, L0 for jumprelu), ``threshold``/``bandwidth`` (jumprelu), ``prefixes`` (matryoshka),
  ``aux_k``/``aux_coef`` (AuxK), ``dead_steps``, ``resample_until`` (relu), ``lr``, ``init`` ('random' | 'truth'),
  ``seed``), and :class:`SAETraining` (``steps``, ``batch_size``, ``seed`` of the activation stream, ``log_every``).
- :mod:`tms.sae.sources`: the activation-source protocol (``d_in``; ``directions [n_true, d_in]``;
  ``sample(batch, generator) -> (h [batch, d_in], active [batch, n_true])``; ``describe()``), :class:`RunSource`
  (a stored run: h = W x of one instance, truth = its represented columns) and synthetic sources
  (:func:`~tms.sae.sources.independent`, :func:`~tms.sae.sources.hierarchy`, :func:`~tms.sae.sources.sharkey`).
- :mod:`tms.sae.families`: each family's activation and loss, the eager autograd reference (one SAE at a time).
- :mod:`tms.sae.fast`: the batched fast path: many SAEs of one family and shape as one set of tensors
  (``W_enc [sae, d_in, d_sae]``, ``W_dec [sae, d_sae, d_in]``, ``b_enc [sae, d_sae]``, ``b_dec [sae, d_in]``,
  jumprelu's ``log_threshold [sae, d_sae]``), hand-written gradients, a batched Adam.
- :mod:`tms.sae.train`: :func:`train` ``(source, configs, training=SAETraining(), engine='fast'|'eager')`` →
  :class:`TrainedSAEs` (a sequence of :class:`SAE`: ``config``, ``W_enc [d_in, d_sae]``, ``W_dec [d_sae, d_in]``,
  ``b_enc``, ``b_dec``, ``threshold [d_sae]`` or None; ``encode(h)``, ``decode(f)``, ``__call__(h)``; plus the
  per-SAE training log and the dead-latent counters).
- :mod:`tms.sae.folder`: an SAE folder: ``saes.json`` (our metadata: configs, training, source description,
  log) and per SAE ``sae_NNN/cfg.json`` + ``sae_NNN/sae_weights.safetensors`` in SAELens's on-disk format
  (:func:`write_saes`, :func:`read_saes`, :func:`is_complete`; atomic, skipped when complete with the same config).
"""

from __future__ import annotations

import importlib
from typing import Any

from .config import SAEConfig, SAETraining
from .train import SAE, TrainedSAEs, train

#: Submodules loaded on first use (``tms.sae.evaluate.evaluate`` after ``import tms``), so that importing the
#: SAE core does not load scipy's matching, SAELens or the compiled kernels.
_SUBMODULES = ("config", "evaluate", "families", "fast", "folder", "kernels", "metrics", "saelens", "sources")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["SAE", "SAEConfig", "SAETraining", "TrainedSAEs", "train"]
