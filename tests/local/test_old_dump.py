"""A dump taken by an older pg_dump (prod on an older PostgreSQL) loads into the clone."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from prodclone.local.embedded import SERVICE_USER
from prodclone.local.server import LocalServer
from prodclone.pg.conninfo import socket_url
from tests.conftest import Project, run_sql
from tests.local.test_load_clone import SOURCE_SQL, fingerprint
from tests.schema.older_server import older_bin_dir


@pytest.fixture(scope="module")
def old_dump(pg: LocalServer) -> Iterator[tuple[Path, tuple[object, ...]]]:
    """A custom-format dump made by an older pg_dump from an older server, and its fingerprint."""
    bin_dir = older_bin_dir(pg.major_version())
    if bin_dir is None:
        pytest.skip("no older PostgreSQL server in /usr/lib/postgresql to take a dump with")
    root = Path(tempfile.mkdtemp(prefix="prodclone-old-"))
    user = SERVICE_USER if os.geteuid() == 0 else None
    if user is not None:  # PostgreSQL will not run as root
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    data, sock = root / "data", str(root)

    def run(*args: str) -> None:
        subprocess.run(args, user=user, check=True, capture_output=True, cwd=root)

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync")
    run(
        *(str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log")),
        *("-o", f"-k {sock} -p 5433 -c listen_addresses=''", "start"),
    )
    try:
        old = LocalServer(socket_url(sock, 5433, "postgres", "postgres"), embedded=False)
        with old.connect() as conn:
            conn.execute("CREATE DATABASE shop")
        run_sql(old, "shop", SOURCE_SQL)
        dump = root / "prod-20200101T000000Z.dump"
        run(str(bin_dir / "pg_dump"), "-Fc", "-f", str(dump), old.url("shop"))
        yield dump, fingerprint(old, "shop")
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_a_dump_from_an_older_pg_dump_restores_and_resets(
    project: Project, pg: LocalServer, old_dump: tuple[Path, tuple[object, ...]]
) -> None:
    dump, source = old_dump
    project.configure({"app": "olddump", "local": {"keep_spare": False}})
    first = project.run("db.load-clone", "--dump", str(dump))
    assert first.returncode == 0, first.stderr
    assert "restored in full" in first.stdout
    assert fingerprint(pg, "olddump_prod_clone") == source
    run_sql(pg, "olddump_prod_clone", "TRUNCATE orders")
    reset = project.run("db.load-clone", "--dump", str(dump))
    assert reset.returncode == 0, reset.stderr
    assert "copied from its template" in reset.stdout
    assert fingerprint(pg, "olddump_prod_clone") == source
    assert project.run("db.drop-clone", "--yes").returncode == 0
