"""Fast whole-database copies: template copies, the spare, and the swap into place."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from prodclone.faults import checkpoint
from prodclone.local import databases


def copy_database(conn: psycopg.Connection, target: str, template: str, comment: str) -> None:
    """CREATE DATABASE ... STRATEGY FILE_COPY, with reflinks where the filesystem has them."""
    if conn.info.server_version >= 180000:
        try:
            conn.execute("SET file_copy_method = clone")
            databases.create(conn, target, comment, template=template)
            return
        except psycopg.errors.DuplicateDatabase:
            raise  # someone else's database, perhaps: never ours to drop here
        except psycopg.errors.DatabaseError:
            # No reflink support here: copy the files instead. A failed
            # CREATE DATABASE leaves nothing behind to clean up.
            pass
        finally:
            conn.execute("RESET file_copy_method")
    databases.create(conn, target, comment, template=template)


def lock_connections(conn: psycopg.Connection, name: str, allowed: bool) -> None:
    """Templates and spares take no connections, so nothing blocks a copy of them."""
    conn.execute(
        sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
            sql.Identifier(name), sql.Literal(allowed)
        )
    )


def swap_into_place(
    conn: psycopg.Connection, ready: str, target: str, comment: str, retired: str
) -> bool:
    """Put the finished copy `ready` in place of `target`; the clone is never half-made.

    The old `target` is renamed to `retired` rather than dropped: unlinking a
    large database takes seconds, so it is dropped later, in the background.
    Returns True when there is such an old copy to drop.
    """
    databases.drop(conn, retired)
    old = databases.require_ours_or_absent(conn, target)
    with _interrupts_deferred():
        if old is not None:
            # Keep the app from reconnecting between the termination and the rename.
            lock_connections(conn, target, False)
            databases.terminate_connections(conn, target)
            databases.rename(conn, target, retired)
            databases.mark(conn, retired, "retired")
        checkpoint("load-swapping")  # between the renames: no clone at all here
        databases.rename(conn, ready, target)
        lock_connections(conn, target, True)
        databases.mark(conn, target, comment)
    return old is not None


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C until the block ends: between the two renames there is no clone at all."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


# -- background work: dropping retired copies, building the next spare ------------


def _worker_lock_path(state_dir: Path) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    return state_dir / "background.lock"


@contextmanager
def background_idle(state_dir: Path) -> Iterator[None]:
    """Wait for background work to finish, and keep new work from starting meanwhile."""
    with open(_worker_lock_path(state_dir), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class BackgroundJob:
    drop: list[str]
    template: str = ""
    spare: str = ""
    spare_comment: str = ""

    @property
    def empty(self) -> bool:
        return not self.drop and not self.spare


def start_background(state_dir: Path, base_url: str, job: BackgroundJob) -> None:
    """Run `job` in a detached process so this command returns at once.

    The child inherits the background lock, already taken here, so whoever
    waits in `background_idle` waits for the job itself: no start-up race.
    """
    if job.empty:
        return
    payload = json.dumps({"url": base_url, "job": asdict(job)})
    with (
        open(_worker_lock_path(state_dir), "w") as lock,
        open(state_dir / "background.log", "a") as log,
    ):
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.Popen(
            [sys.executable, "-m", "prodclone.local.copies", str(lock.fileno())],
            # The URL may hold a password: the environment, not argv.
            env={**os.environ, "PRODCLONE_BACKGROUND_JOB": payload},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            pass_fds=(lock.fileno(),),
        )


def run_background(base_url: str, job: BackgroundJob) -> None:
    """Drop retired copies, then build the spare; the caller holds the background lock."""
    with psycopg.connect(base_url, autocommit=True) as conn:
        for name in job.drop:
            databases.drop(conn, name)
        if not job.spare or databases.find(conn, job.template) is None:
            return
        spare = databases.find(conn, job.spare)
        if spare is not None and spare.role == "spare":
            return
        staging = job.spare + "_"
        databases.drop(conn, job.spare)  # one without its mark was never finished
        databases.drop(conn, staging)
        copy_database(conn, staging, job.template, "staging spare")
        lock_connections(conn, staging, False)
        # Marked before the rename: a database named as the spare is always whole.
        databases.mark(conn, staging, job.spare_comment)
        databases.rename(conn, staging, job.spare)
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} spare {job.spare} ready", flush=True)


if __name__ == "__main__":
    _payload = json.loads(os.environ["PRODCLONE_BACKGROUND_JOB"])
    _inherited_lock = int(sys.argv[1])  # held until this process exits
    run_background(_payload["url"], BackgroundJob(**_payload["job"]))
