"""Fast engine (placeholder until the hand-written engine lands): delegates to the eager reference."""

from __future__ import annotations

from .eager import train_chunk  # noqa: F401
