"""Databases being created, recorded so a killed command's half-made one is known as ours.

`CREATE DATABASE` cannot share a transaction with the `COMMENT` that marks it,
and a SIGKILL (or a SIGTERM nobody handles) between the two, or during the
CREATE itself, leaves a database without the mark: one that every later run
would refuse to touch. So before each CREATE, a 0600 record in the state folder
names the database, this process (pid and start time) and its server session.
A record whose process is gone, found by the next command, means its database
was made by prodclone: the session is ended if the server still runs it, and a
database of that name still without the mark is dropped.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from prodclone.processes import pid_alive, start_time

_FOLDER = "creating"


def _server(conn: psycopg.Connection) -> str:
    """Which server a record belongs to: the same state folder may serve another later."""
    return f"{conn.info.host}:{conn.info.port}"


def _folder(state_dir: Path) -> Path:
    folder = state_dir / _FOLDER
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


@contextmanager
def recorded(conn: psycopg.Connection, state_dir: Path | None, name: str) -> Iterator[None]:
    """Record that this process creates (and marks) `name` on `conn`'s server, for the block."""
    if state_dir is None:
        yield
        return
    row = conn.execute(
        "SELECT pg_backend_pid(), backend_start::text FROM pg_stat_activity "
        "WHERE pid = pg_backend_pid()"
    ).fetchone()
    backend, backend_start = (row[0], row[1]) if row else (0, "")
    entry = {
        "database": name,
        "server": _server(conn),
        "pid": os.getpid(),
        "started": start_time(os.getpid()),
        "backend_pid": backend,
        "backend_start": backend_start,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = _folder(state_dir) / f"{os.getpid()}-{name}.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(entry, handle)
    try:
        yield
    finally:
        # Only a clean end (marked, or failed with nothing left) removes the record; a
        # process killed here never reaches this line, and the record outlives it.
        path.unlink(missing_ok=True)


def reclaim(conn: psycopg.Connection, state_dir: Path, mark: str) -> list[str]:
    """Drop the unmarked databases that dead prodclone processes were creating here.

    Returns the names dropped. A record of a live process, or of another server,
    is left alone.
    """
    folder = state_dir / _FOLDER
    dropped: list[str] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            entry = json.loads(path.read_text())
            name, server = str(entry["database"]), str(entry["server"])
            pid, started = int(entry["pid"]), str(entry["started"])
            backend, backend_start = int(entry["backend_pid"]), str(entry["backend_start"])
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # unreadable: it can vouch for nothing
            continue
        if server != _server(conn) or pid_alive(pid, started):
            continue
        # A CREATE DATABASE goes on after its client is killed: end it, or it
        # would finish after this look and leave its database unmarked again.
        conn.execute(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
            "WHERE pid = %s AND backend_start::text = %s",
            (backend, backend_start),
        )
        row = conn.execute(
            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') "
            "FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
        if row is not None and not row[0].startswith(mark):
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            dropped.append(name)
        path.unlink(missing_ok=True)
    return dropped
