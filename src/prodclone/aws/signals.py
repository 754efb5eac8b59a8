"""Moved to `prodclone.signals` (local tasks use it too); kept for existing imports."""

from prodclone.signals import (
    CLEANUP_SIGNALS,
    interrupted,
    shielded,
    signals_interrupt,
)

__all__ = ["CLEANUP_SIGNALS", "interrupted", "shielded", "signals_interrupt"]
