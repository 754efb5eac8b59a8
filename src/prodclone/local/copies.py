"""Fast whole-database copies: template copies, the spare, and the swap into place."""

from __future__ import annotations

import contextlib
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
from types import FrameType

import psycopg
from psycopg import sql

from prodclone.faults import checkpoint
from prodclone.guard.filelock import file_lock, lock_exclusive, open_lock_file
from prodclone.guard.signals import CLEANUP_SIGNALS
from prodclone.pg import databases


def copy_database(
    conn: psycopg.Connection,
    target: str,
    template: str,
    comment: str,
    state_dir: Path | None = None,
) -> None:
    """CREATE DATABASE ... STRATEGY FILE_COPY, with reflinks where the filesystem has them."""
    if conn.info.server_version >= 180000:
        try:
            conn.execute("SET file_copy_method = clone")
            databases.create(conn, target, comment, template=template, state_dir=state_dir)
            return
        except psycopg.errors.DuplicateDatabase:
            raise  # someone else's database, perhaps: never ours to drop here
        except psycopg.errors.DatabaseError:
            # No reflink support here: copy the files instead. A failed
            # CREATE DATABASE leaves nothing behind to clean up.
            pass
        finally:
            conn.execute("RESET file_copy_method")
    databases.create(conn, target, comment, template=template, state_dir=state_dir)


def lock_connections(conn: psycopg.Connection, name: str, allowed: bool) -> None:
    """Templates and spares take no connections, so nothing blocks a copy of them."""
    conn.execute(
        sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
            sql.Identifier(name), sql.Literal(allowed)
        )
    )


def close_to_sessions(conn: psycopg.Connection, name: str) -> None:
    """Let no session in (the app, pgAdmin, a monitoring agent) and end those inside.

    A rename waits for the database's sessions to leave, then fails: a client
    left on a copy must not be able to stop the swap half way.
    """
    lock_connections(conn, name, False)
    databases.terminate_connections(conn, name)


RETIRED = "retired"


def swap_into_place(
    conn: psycopg.Connection, ready: str, target: str, comment: str, retired: str
) -> bool:
    """Put the finished copy `ready` in place of `target`; the clone is never half-made.

    The old `target` is renamed to `retired` rather than dropped: unlinking a
    large database takes seconds, so it is dropped later, in the background.
    Every signal that would end the command waits until the swap is over, and
    a swap that fails puts the old `target` back as it was.
    Returns True when there is such an old copy to drop.
    """
    databases.drop(conn, retired)
    old = databases.require_ours_or_absent(conn, target)
    with signals_deferred():
        close_to_sessions(conn, ready)
        if old is not None:
            close_to_sessions(conn, target)
            databases.rename(conn, target, retired)
            # What it was stays in the mark, so it can be put back just as it was.
            databases.mark(conn, retired, f"{RETIRED} {old.comment[len(databases.MARK) :]}")
        try:
            checkpoint("load-swapping")  # between the renames: no clone at all here
            databases.rename(conn, ready, target)
        except BaseException:
            if old is not None:
                _put_back(conn, retired, target, old.comment)
            raise
        lock_connections(conn, target, True)
        databases.mark(conn, target, comment)
    return old is not None


def _put_back(conn: psycopg.Connection, retired: str, target: str, comment: str) -> None:
    databases.rename(conn, retired, target)
    databases.mark(conn, target, comment[len(databases.MARK) :])
    lock_connections(conn, target, True)


def restore_retired(conn: psycopg.Connection, retired: str, target: str) -> bool:
    """After a swap that was killed half way (SIGKILL), put the old clone back in place."""
    if databases.find(conn, target) is not None:
        return False
    old = databases.find(conn, retired)
    if old is None or not old.usable or old.role != RETIRED:
        return False
    body = old.comment[len(databases.MARK) + len(RETIRED) :].strip()
    if not body.startswith("clone"):
        return False
    _put_back(conn, retired, target, databases.MARK + body)
    return True


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold every signal that would end the command (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT)
    until the block ends, then deliver the first as it would have come.

    Between the two renames of a swap there is no clone at all: stopping there
    would leave none, or one that refuses connections.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, _frame: FrameType | None) -> None:
        if not caught:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.write("prodclone: putting the clone in place first, then stopping\n")
                sys.stderr.flush()
        caught.append(signum)

    previous = {}
    try:
        for signum in CLEANUP_SIGNALS:
            previous[signum] = signal.signal(signum, hold)
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            signal.raise_signal(caught[0])


# -- background work: dropping retired copies, building the next spare ------------


def _worker_lock_path(state_dir: Path) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    return state_dir / "background.lock"


@contextmanager
def background_idle(state_dir: Path) -> Iterator[None]:
    """Wait for background work to finish, and keep new work from starting meanwhile."""
    with file_lock(_worker_lock_path(state_dir)):
        yield


@dataclass(frozen=True)
class BackgroundJob:
    drop: list[str]
    template: str = ""
    spare: str = ""
    spare_comment: str = ""
    state_dir: str = ""

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
        open_lock_file(_worker_lock_path(state_dir)) as lock,
        open(state_dir / "background.log", "a") as log,
    ):
        lock_exclusive(lock)
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
        template = databases.find(conn, job.template) if job.spare else None
        if template is None or not template.usable:
            return
        spare = databases.find(conn, job.spare)
        if spare is not None and spare.usable and spare.role == "spare":
            return
        staging = job.spare + "_"
        databases.drop(conn, job.spare)  # one without its mark was never finished
        databases.drop(conn, staging)
        state_dir = Path(job.state_dir) if job.state_dir else None
        copy_database(conn, staging, job.template, "staging spare", state_dir)
        lock_connections(conn, staging, False)
        # Marked before the rename: a database named as the spare is always whole.
        databases.mark(conn, staging, job.spare_comment)
        databases.rename(conn, staging, job.spare)
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} spare {job.spare} ready", flush=True)


if __name__ == "__main__":
    _payload = json.loads(os.environ["PRODCLONE_BACKGROUND_JOB"])
    _inherited_lock = int(sys.argv[1])  # held until this process exits
    run_background(_payload["url"], BackgroundJob(**_payload["job"]))
