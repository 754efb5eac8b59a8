"""pg_dump through the tunnel into a `.partial` path, the password in a 0600 pgpass file
in a 0700 folder under the project's private state folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
from rich.progress import DownloadColumn, TransferSpeedColumn

from prodclone import proc
from prodclone.aws.tunnels import LocalEnd
from prodclone.clone.plan import ClonePlan
from prodclone.clone.report import Report
from prodclone.errors import ProdcloneError
from prodclone.guard.signals import shielded
from prodclone.pg import dumps
from prodclone.proc import pid_alive

# How often the progress bar looks at the bytes written so far.
PROGRESS_SECONDS = 0.3
# Without a terminal (CI) there is no bar: a line this often says the dump is alive.
PROGRESS_LINE_SECONDS = 60.0


@contextlib.contextmanager
def partial_path(final: Path) -> Iterator[Path]:
    """Where the dump is written until it is checked; removed if it is still there at the end."""
    partial = final.with_name(final.name + dumps.PARTIAL_SUFFIX)
    try:
        yield partial
    finally:
        with shielded():
            if partial.is_dir():
                shutil.rmtree(partial, ignore_errors=True)
            elif partial.exists():
                partial.unlink()


def _pgpass_line(host: str, port: int, database: str, user: str, password: str) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace(":", "\\:")

    return ":".join(escape(v) for v in (host, str(port), database, user, password)) + "\n"


# Under the project's private state folder, never the shared /tmp: a folder left by a
# killed run is found and removed by the next one (and by `db.list-clones --delete`).
PGPASS_FOLDER = "clone-prod"
_PGPASS_PREFIX = "pgpass-"


def pgpass_dir(state_dir: Path) -> Path:
    """Where a run keeps its password folder, in the private `state_dir` (local.data_dir)."""
    return state_dir / PGPASS_FOLDER


def remove_stale_pgpass(parent: Path) -> int:
    """Remove password folders whose run (named by its pid) is no longer alive; how many."""
    if not parent.is_dir():
        return 0
    removed = 0
    for folder in parent.glob(f"{_PGPASS_PREFIX}*"):
        pid_text = folder.name.removeprefix(_PGPASS_PREFIX).split("-", 1)[0]
        if folder.is_symlink() or not folder.is_dir():
            continue
        if pid_text.isdigit() and pid_alive(int(pid_text)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


@contextlib.contextmanager
def pgpass_file(
    parent: Path, host: str, port: int, database: str, user: str, password: str
) -> Iterator[Path]:
    """A 0600 password file in a private (0700) folder under `parent`, removed afterwards."""
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(parent, 0o700)
    remove_stale_pgpass(parent)
    folder = Path(tempfile.mkdtemp(prefix=f"{_PGPASS_PREFIX}{os.getpid()}-", dir=parent))
    try:
        path = folder / "pgpass"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(_pgpass_line(host, port, database, user, password))
        yield path
    finally:
        with shielded():
            shutil.rmtree(folder, ignore_errors=True)


def connect_throwaway(
    end: LocalEnd, database: str, user: str, passfile: Path, *, purpose: str = ""
) -> psycopg.Connection:
    """A connection to `database` on the throwaway instance through the tunnel's end,
    the password read from `passfile`; a failure is one line (`purpose` says what for)."""
    try:
        return psycopg.connect(
            host=end.host,
            port=end.port,
            dbname=database,
            user=user,
            passfile=str(passfile),
            connect_timeout=30,
            application_name="prodclone",
        )
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or ["no answer"])[-1]
        raise ProdcloneError(
            f"cannot connect to database {database!r} on the throwaway instance{purpose}: {reason}"
        ) from None


def _database_size(end: LocalEnd, database: str, user: str, passfile: Path) -> int:
    with connect_throwaway(end, database, user, passfile) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def _pg_dump_args(plan: ClonePlan, target: Path, jobs: int) -> list[str]:
    args = [
        str(plan.pg_dump.path),
        "--format=directory" if jobs > 1 else "--format=custom",
        "--no-password",
        f"--file={target}",
    ]
    if jobs > 1:
        args.append(f"--jobs={jobs}")
    if plan.compression:
        args.append(f"--compress={plan.compression}")
    return args


def _pg_dump_env(end: LocalEnd, user: str, database: str, passfile: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PGHOST": end.host,
        "PGPORT": str(end.port),
        "PGUSER": user,
        "PGDATABASE": database,
        "PGPASSFILE": str(passfile),
        "PGCONNECT_TIMEOUT": "30",
        "PGAPPNAME": "prodclone",
    }
    env.pop("PGPASSWORD", None)  # the pgpass file is the one way in
    return env


def dump_database(
    plan: ClonePlan,
    end: LocalEnd,
    user: str,
    password: str,
    target: Path,
    report: Report,
    pgpass_parent: Path,
    on_started: Callable[[], None] = lambda: None,
) -> None:
    """pg_dump through the tunnel into `target`; a bar of bytes written against the db size."""
    with pgpass_file(pgpass_parent, end.host, end.port, plan.database, user, password) as passfile:
        total = _database_size(end, plan.database, user, passfile)
        jobs = plan.jobs if end.parallel_ok else 1
        report.step(
            f"pg_dump {plan.database} ({total / 1024**2:.0f} MiB in the database) -> {target.name}"
        )
        with tempfile.TemporaryFile() as errors:
            # Its own group: with --jobs, the workers are stopped with it.
            process = proc.start(
                _pg_dump_args(plan, target, jobs),
                env=_pg_dump_env(end, user, plan.database, passfile),
                stdout=subprocess.DEVNULL,
                stderr=errors,
                umask=0o077,
            )
            try:
                on_started()
                _follow(process, target, total, report)
            finally:
                # Ended on its own: only reaped. Interrupted: its whole group is stopped.
                proc.stop(process)
            errors.seek(0)
            message = proc.decode(errors.read()).strip().splitlines()
    if process.returncode != 0:
        reason = message[-1] if message else "no message"
        raise ProdcloneError(f"pg_dump failed (exit {process.returncode}): {reason}")
    report.line(f"    wrote {dumps.size_on_disk(target) / 1024**2:.1f} MiB")
    _make_private(target)


def _follow(process: subprocess.Popen[bytes], target: Path, total: int, report: Report) -> None:
    """Until pg_dump ends: a bar of bytes written on a terminal, else a line now and then."""
    started = last_line = time.monotonic()
    with report.progress("dump", DownloadColumn(), TransferSpeedColumn()) as progress:
        bar = progress.add_task("dump", total=max(total, 1))
        while process.poll() is None:
            written = dumps.size_on_disk(target)
            progress.update(bar, completed=written)
            now = time.monotonic()
            if not report.console.is_terminal and now - last_line >= PROGRESS_LINE_SECONDS:
                last_line = now
                report.line(
                    f"    dump: {written / 1024**2:.0f} MiB written of a "
                    f"{total / 1024**2:.0f} MiB database ({now - started:.0f}s)"
                )
            time.sleep(PROGRESS_SECONDS)


def _make_private(path: Path) -> None:
    """0600 files, 0700 folders: the umask already did it; this also covers a pre-made --out."""
    if path.is_dir():
        os.chmod(path, 0o700)
        for item in path.rglob("*"):
            os.chmod(item, 0o600 if item.is_file() else 0o700)
    else:
        os.chmod(path, 0o600)
