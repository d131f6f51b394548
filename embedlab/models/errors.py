"""The error every model loader raises when a model cannot run here (one home, imported by all of them)."""

from __future__ import annotations

__all__ = ["ModelUnavailable"]


class ModelUnavailable(LookupError):
    """A model cannot be loaded on this machine; the message says why and how to fix it."""
