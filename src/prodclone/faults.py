"""A test-only fault hook at named steps; inert unless its env var is set.

The fault tests set PRODCLONE_TEST_FAULT to comma-separated "<step>[:mode]"
entries: no mode raises at that step, "pause" waits there until a signal
arrives, "slow" sleeps a second and goes on. Unset or empty (as in any
normal run) `checkpoint` returns at once; a step name must match exactly, and
every hit announces itself on stderr ("test hook: pause at <step>"), so it
cannot act unnoticed and a test can send its signal at that exact step.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys
import threading
import time

TEST_FAULT_ENV = "PRODCLONE_TEST_FAULT"
PAUSE_SECONDS = 600
# Long enough for a test to act on the announcement (a signal, a connection, a second
# command), short enough that the tests that use it do not wait on it for long.
SLOW_SECONDS = 1


def checkpoint(step: str) -> None:
    wanted = os.environ.get(TEST_FAULT_ENV)
    if not wanted:
        return
    for entry in wanted.split(","):
        name, _, mode = entry.strip().partition(":")
        if name != step:
            continue
        if mode == "pause":
            _pause(step)
            return
        print(f"test hook: {mode or 'fail'} at {step}", file=sys.stderr, flush=True)
        if mode == "slow":
            time.sleep(SLOW_SECONDS)
        else:
            raise RuntimeError(f"injected failure at step {step} ({TEST_FAULT_ENV})")


def _pause(step: str) -> None:
    """Wait until a signal arrives: one whose handler raises ends the wait by raising,
    and one a shielded block only notes ends it too (the wakeup byte), so the step
    goes on and the signal takes effect where the code lets it."""
    announce = f"test hook: pause at {step}"
    if threading.current_thread() is not threading.main_thread():
        print(announce, file=sys.stderr, flush=True)
        time.sleep(PAUSE_SECONDS)
        return
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    # Set up before the announcement: the signal may come the moment it is read.
    previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    try:
        print(announce, file=sys.stderr, flush=True)
        select.select([reader], [], [], PAUSE_SECONDS)
    finally:
        signal.set_wakeup_fd(previous)
        reader.close()
        writer.close()
