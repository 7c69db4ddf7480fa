"""Small helpers for the sentences that tables, claims and the report write."""

from __future__ import annotations


def plural(k: int, noun: str) -> str:
    """``plural(1, "model")`` is "1 model", ``plural(3, "model")`` "3 models" (regular nouns only)."""
    return f"{k} {noun}{'' if k == 1 else 's'}"
