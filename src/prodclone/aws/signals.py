"""Signals around cleanup: SIGTERM interrupts work like Ctrl-C; cleanup cannot be interrupted.

While any `shielded()` block runs, SIGINT and SIGTERM only print "still cleaning
up": a second Ctrl-C must not leave a paid instance behind.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

_depth = 0
_saved: dict[signal.Signals, Any] = {}


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _still_cleaning(signum: int, frame: FrameType | None) -> None:
    sys.stderr.write("prodclone: still cleaning up; the resources are being removed\n")
    sys.stderr.flush()


@contextmanager
def shielded() -> Iterator[None]:
    """Ignore SIGINT/SIGTERM (with a message) for the duration; nests."""
    global _depth
    if not _in_main_thread():
        yield
        return
    if _depth == 0:
        for signum in (signal.SIGINT, signal.SIGTERM):
            _saved[signum] = signal.signal(signum, _still_cleaning)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            for signum, handler in _saved.items():
                signal.signal(signum, handler)
            _saved.clear()


def _terminate_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt, so `finally` blocks run as they do for Ctrl-C."""
    if not _in_main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
