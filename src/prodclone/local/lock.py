"""One prodclone command at a time on the local databases (two terminals, say).

A composite command (refactor-check) takes the lock once for its whole run, so
no other command swaps the clone or the fresh database under it; the steps it
runs (the reset, the fresh build) take the lock too, and find it already held.
A command that finds the lock taken waits, and says which command holds it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from prodclone.local.server import LocalServer

# pg_advisory_lock key: "prodclone" in ASCII, fits a bigint.
LOCK_KEY = 0x70726F64636C6F
# How the holder's session names itself in pg_stat_activity, so a waiter can say who it is.
HOLDER_PREFIX = "prodclone "


_held = 0  # nesting depth in this process: composite commands call locking steps


@contextmanager
def local_lock(server: LocalServer, what: str) -> Iterator[None]:
    """Hold the server-wide advisory lock; wait (saying so) while another command has it.

    Advisory locks belong to a session: the lock lives on a connection of its
    own, held for the whole block, and a nested call in this process only counts.
    """
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
        conn.execute(
            "SELECT set_config('application_name', %s, false)",
            (f"{HOLDER_PREFIX}{what} (pid {os.getpid()})",),
        )
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
        if not (got and got[0]):
            print(
                f"another prodclone command is working on the local databases"
                f"{_holder(conn)}; {what} waits for it (Ctrl-C to give up)",
                file=sys.stderr,
                flush=True,
            )
            conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        _held = 1
        yield
    finally:
        _held = 0
        conn.close()  # ends the session, which releases the lock


def _holder(conn: psycopg.Connection) -> str:
    """` (refactor-check, pid 123, since 21:05:10)`, or "" when it cannot be told."""
    # A bigint key shows in pg_locks as two 32-bit halves, with objsubid 1.
    row = conn.execute(
        """
        SELECT a.application_name, to_char(a.backend_start, 'HH24:MI:SS')
        FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
          AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid
        LIMIT 1
        """,
        (LOCK_KEY >> 32, LOCK_KEY & 0xFFFFFFFF),
    ).fetchone()
    if not row or not str(row[0]).startswith(HOLDER_PREFIX):
        return ""
    name = str(row[0]).removeprefix(HOLDER_PREFIX)
    return f" ({name.replace(' (pid', ', pid').removesuffix(')')}, since {row[1]})"
