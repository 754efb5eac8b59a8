"""One prodclone command at a time on the local databases (two terminals, say)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from prodclone.local.server import LocalServer

# pg_advisory_lock key: "prodclone" in ASCII, fits a bigint.
LOCK_KEY = 0x70726F64636C6F


_held = 0  # nesting depth in this process: composite commands call locking steps


@contextmanager
def local_lock(server: LocalServer, what: str) -> Iterator[None]:
    """Hold the server-wide advisory lock; wait (saying so) while another command has it."""
    global _held
    if _held:
        _held += 1
        try:
            yield
        finally:
            _held -= 1
        return
    conn = server.connect()
    try:
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
        if not (got and got[0]):
            print(
                f"another prodclone command is working on the local databases; "
                f"{what} waits for it (Ctrl-C to give up)",
                file=sys.stderr,
                flush=True,
            )
            conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        _held = 1
        yield
    finally:
        _held = 0
        conn.close()  # ends the session, which releases the lock
