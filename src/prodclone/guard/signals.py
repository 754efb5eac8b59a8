"""Signals around cleanup: every signal that ends a run takes the cleanup path, once.

Inside `signals_interrupt()`, SIGINT, SIGTERM, SIGHUP (the terminal or SSH
session closed) and SIGQUIT raise KeyboardInterrupt the first time, so the
`finally` blocks run as they do for Ctrl-C. The handler marks the run as
interrupted before it raises, so from the very first line of the teardown
any further signal only prints "still cleaning up": a second Ctrl-C a
millisecond after the first cannot cut the teardown short. While any
`shielded()` block runs, the same signals only print that message too.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

CLEANUP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)

_depth = 0  # open shielded() blocks
_interrupted = False  # a signal already started the teardown
_received: int | None = None  # the signal that started it, for the report
_installed = False  # signals_interrupt() is active
_saved: dict[signal.Signals, Any] = {}


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _still_cleaning() -> None:
    # The terminal may be gone (SIGHUP): the cleanup matters more than the message.
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write("prodclone: still cleaning up; the resources are being removed\n")
        sys.stderr.flush()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _interrupted, _received
    if _interrupted or _depth:
        _still_cleaning()
        return
    _received = signum
    # Set before raising: a second signal arriving while the first one's
    # KeyboardInterrupt unwinds finds the flag and only prints.
    _interrupted = True
    raise KeyboardInterrupt


def interrupted() -> bool:
    """Whether a signal has started the teardown of the current run."""
    return _interrupted


def interruption() -> str:
    """What stopped the run, as a report says it: "Ctrl-C", "SIGTERM", "SIGHUP"..."""
    if _received is None or _received == signal.SIGINT:
        return "Ctrl-C"  # also a KeyboardInterrupt raised without our handler
    return signal.Signals(_received).name


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """The first SIGINT/SIGTERM/SIGHUP/SIGQUIT raises KeyboardInterrupt; later ones only print."""
    global _installed, _interrupted, _received
    if not _in_main_thread() or _installed:
        yield
        return
    previous = {signum: signal.signal(signum, _on_signal) for signum in CLEANUP_SIGNALS}
    _installed = True
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _installed = False
        _interrupted = False
        _received = None


@contextmanager
def shielded() -> Iterator[None]:
    """The cleanup signals only print "still cleaning up" for the duration; nests."""
    global _depth
    if not _in_main_thread():
        yield
        return
    # The depth goes up before any handler changes: a signal in between is already shielded.
    _depth += 1
    if _depth == 1 and not _installed:
        for signum in CLEANUP_SIGNALS:
            _saved[signum] = signal.signal(signum, _on_signal)
    try:
        yield
    finally:
        if _depth == 1 and _saved:
            for signum, handler in _saved.items():
                signal.signal(signum, handler)
            _saved.clear()
        _depth -= 1
