"""Fast whole-database copies: template copies, the spare, and the swap into place."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from prodclone.local import databases


def copy_database(conn: psycopg.Connection, target: str, template: str, comment: str) -> None:
    """CREATE DATABASE ... STRATEGY FILE_COPY, with reflinks where the filesystem has them."""
    if conn.info.server_version >= 180000:
        try:
            conn.execute("SET file_copy_method = clone")
            databases.create(conn, target, comment, template=template)
            return
        except psycopg.errors.DatabaseError:
            # No reflink support (ext4, overlayfs): copy the files instead.
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(target)))
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


def swap_into_place(conn: psycopg.Connection, ready: str, target: str, comment: str) -> None:
    """Replace `target` with the finished copy `ready`: the clone is never half-made."""
    databases.drop(conn, target)
    databases.rename(conn, ready, target)
    lock_connections(conn, target, True)
    databases.mark(conn, target, comment)


# -- the spare: a ready copy of the template, made in the background --------------


def _builder_lock_path(state_dir: Path) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    return state_dir / "spare.lock"


@contextmanager
def spare_builder_idle(state_dir: Path) -> Iterator[None]:
    """Wait for a background spare build to finish, and keep a new one from starting."""
    with open(_builder_lock_path(state_dir), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def start_spare_build(
    state_dir: Path, base_url: str, template: str, spare: str, comment: str
) -> None:
    """Build the next spare in a detached process so this command returns at once."""
    log = open(state_dir / "spare.log", "a")  # noqa: SIM115 - handed to the child
    with log:
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prodclone.local.copies",
                str(state_dir),
                template,
                spare,
                comment,
            ],
            env={**os.environ, "PRODCLONE_SPARE_URL": base_url},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )


def build_spare(state_dir: Path, base_url: str, template: str, spare: str, comment: str) -> None:
    with open(_builder_lock_path(state_dir), "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another builder (or a command that needs quiet) has it
        with psycopg.connect(base_url, autocommit=True) as conn:
            if databases.find(conn, spare) is not None or databases.find(conn, template) is None:
                return
            staging = spare + "_"
            databases.drop(conn, staging)
            copy_database(conn, staging, template, "staging spare")
            lock_connections(conn, staging, False)
            databases.rename(conn, staging, spare)
            databases.mark(conn, spare, comment)
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} spare {spare} ready", flush=True)


if __name__ == "__main__":
    _dir, _template, _spare, _comment = sys.argv[1:5]
    build_spare(Path(_dir), os.environ["PRODCLONE_SPARE_URL"], _template, _spare, _comment)
