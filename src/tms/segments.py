"""Segment sums over sparse entries: the scatter-add that the sparse engine and the batched SAEs share."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def segment_sum(key: Tensor, n: int, idx: Tensor, table: Tensor, weight: Tensor, is_sorted: bool = False
                ) -> Tensor:
    """``out [n, d]`` with out[key_e] += weight_e · table[idx_e] over the entries e: one ``embedding_bag`` over
    the entries sorted by key (much faster on the CPU than ``index_add_`` of gathered rows; ``table`` row-major,
    or the gathers are 10x slower)."""
    if not is_sorted:
        order = torch.argsort(key)
        key, idx, weight = key[order], idx[order], weight[order]
    offsets = torch.zeros(n, dtype=torch.long, device=key.device)
    offsets[1:] = torch.bincount(key, minlength=n).cumsum(0)[:-1]
    return F.embedding_bag(idx, table, offsets, mode="sum", per_sample_weights=weight)
