"""`local.url` at a PostgreSQL 15 server: the right pg_restore, and one-line refusals.

The local server is a real PostgreSQL 15 (Debian's postgresql-15); the embedded
one ships PostgreSQL 18, whose pg_restore sends a setting 15 rejects.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from prodclone.local.embedded import bin_dir
from prodclone.local.server import LocalServer
from tests.conftest import Project, run_sql
from tests.local.test_load_clone import SOURCE_SQL, fingerprint, make_dump
from tests.schema.older_server import older_server, pg15_bin_dir

EXTENSIONS_SQL = """
CREATE EXTENSION pgcrypto;
CREATE EXTENSION "uuid-ossp";
CREATE TABLE token (id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
                    hash bytea NOT NULL DEFAULT digest('x', 'sha256'));
INSERT INTO token DEFAULT VALUES;
"""


@pytest.fixture(scope="module")
def pg15() -> Iterator[LocalServer]:
    # Not in pytest's temp folders: another pytest starting makes their root 0700 again,
    # and the server's user could no longer reach its data.
    root = Path(tempfile.mkdtemp(prefix="prodclone-pg15-"))
    try:
        with older_server(pg15_bin_dir(), root) as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


def database_names(server: LocalServer) -> set[str]:
    with server.connect() as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database").fetchall()}


def role_names(server: LocalServer) -> set[str]:
    with server.connect() as conn:
        return {row[0] for row in conn.execute("SELECT rolname FROM pg_roles").fetchall()}


def pg15_dump(pg15: LocalServer, folder: Path, sql: str, tool_dir: Path) -> Path:
    """A custom-format dump of a PostgreSQL 15 database, by the pg_dump in `tool_dir`."""
    with pg15.connect() as conn:
        conn.execute("DROP DATABASE IF EXISTS src WITH (FORCE)")
        conn.execute("CREATE DATABASE src")
    run_sql(pg15, "src", sql)
    folder.mkdir(parents=True, exist_ok=True)
    dump = folder / f"prod-20240101T00000{len(list(folder.iterdir()))}Z.dump"
    subprocess.run([str(tool_dir / "pg_dump"), "-Fc", "-f", str(dump), pg15.url("src")], check=True)
    return dump


def bin_dir_major() -> int:
    version = subprocess.run(
        [str(bin_dir() / "pg_restore"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    return int(version.split()[2].split(".")[0])


def use_pg15(project: Project, pg15: LocalServer, app: str, **local: object) -> None:
    project.configure({"app": app, "local": {"url": pg15.base_url, "keep_spare": False, **local}})


def test_a_pg15_dump_loads_into_a_pg15_local_server(
    project: Project, pg15: LocalServer, tmp_path: Path
) -> None:
    dump = pg15_dump(pg15, tmp_path, SOURCE_SQL + EXTENSIONS_SQL, pg15_bin_dir())
    source = fingerprint(pg15, "src")
    use_pg15(project, pg15, "old15")
    loaded = project.run("db.load-clone", "--dump", str(dump))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "restoring with pg_restore 15." in loaded.stdout
    assert fingerprint(pg15, "old15_prod_clone") == source
    with psycopg.connect(pg15.url("old15_prod_clone")) as conn:
        assert conn.execute("SELECT count(*) FROM token").fetchone() == (1,)
    reset = project.run("db.load-clone", "--dump", str(dump))
    assert reset.returncode == 0, reset.stderr
    assert "copied from its template" in reset.stdout
    assert project.run("db.drop-clone", "--yes").returncode == 0


def test_a_dump_from_a_newer_server_is_refused_before_anything_is_touched(
    project: Project, pg: LocalServer, pg15: LocalServer, tmp_path: Path
) -> None:
    # The dump names a role the server lacks: a refused load must not create it either.
    grant = "CREATE ROLE newer_owner_role; GRANT SELECT ON orders TO newer_owner_role;"
    dump = make_dump(pg, tmp_path, grant)
    with pg.connect() as conn:
        conn.execute("DROP ROLE newer_owner_role")
    before = database_names(pg15), role_names(pg15)
    use_pg15(project, pg15, "new18")
    refused = project.run("db.load-clone", "--dump", str(dump))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    major = pg.major_version()
    assert refused.stderr.splitlines() == [
        f"prodclone: {dump.name} was dumped from PostgreSQL {major}, newer than the local server "
        f"(PostgreSQL 15); nothing was changed. Use a local server of PostgreSQL {major} or newer "
        "(prodclone.local.url (INVOKE_PRODCLONE_LOCAL_URL)), or the embedded PostgreSQL "
        f"{major} (leave prodclone.local.url empty); see docs/local-server.md"
    ]
    assert (database_names(pg15), role_names(pg15)) == before


def test_a_dump_pg_restore_15_cannot_read_is_refused_with_the_way_out(
    project: Project, pg15: LocalServer, tmp_path: Path
) -> None:
    # PostgreSQL 15's data, written by pg_dump 18: an archive only pg_restore 18 reads,
    # and pg_restore 18 cannot write to a PostgreSQL 15 server.
    dump = pg15_dump(pg15, tmp_path, SOURCE_SQL, bin_dir())
    before = database_names(pg15)
    use_pg15(project, pg15, "mixed")
    refused = project.run("db.load-clone", "--dump", str(dump))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    [line] = refused.stderr.splitlines()
    assert line.startswith(f"prodclone: cannot restore {dump.name} into PostgreSQL 15: "), line
    assert "which pg_restore 15 (" in line, line
    assert line.endswith(
        "nothing was changed. Take the dump again with pg_dump 15, or use a local server of "
        "PostgreSQL 17 or newer (prodclone.local.url (INVOKE_PRODCLONE_LOCAL_URL)), or the "
        f"embedded PostgreSQL {bin_dir_major()} (leave prodclone.local.url empty); "
        "see docs/local-server.md"
    ), line
    assert database_names(pg15) == before


def test_local_bin_dir_names_the_tools_to_use(
    project: Project, pg: LocalServer, pg15: LocalServer, tmp_path: Path
) -> None:
    dump = pg15_dump(pg15, tmp_path, SOURCE_SQL, pg15_bin_dir())
    project.configure(
        {"app": "bindir", "local": {"bin_dir": str(pg15_bin_dir()), "keep_spare": False}}
    )
    loaded = project.run("db.load-clone", "--dump", str(dump))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "restoring with pg_restore 15." in loaded.stdout
    assert fingerprint(pg, "bindir_prod_clone") == fingerprint(pg15, "src")
    assert project.run("db.drop-clone", "--yes").returncode == 0

    project.configure({"app": "bindir", "local": {"bin_dir": str(tmp_path)}})
    empty = project.run("db.load-clone", "--dump", str(dump))
    assert empty.returncode == 1
    assert empty.stderr.startswith(
        f"prodclone: prodclone.local.bin_dir (INVOKE_PRODCLONE_LOCAL_BIN_DIR) is {tmp_path}, "
        "which has no runnable pg_restore"
    ), empty.stderr
    project.configure({"app": "bindir", "local": {"bin_dir": str(tmp_path / "nowhere")}})
    missing = project.run("db.load-clone", "--dump", str(dump))
    assert missing.returncode != 0
    assert missing.stderr.startswith(
        "prodclone: prodclone.local.bin_dir must be a folder of PostgreSQL client tools"
    ), missing.stderr
    assert "INVOKE_PRODCLONE_LOCAL_BIN_DIR" in missing.stderr


def test_extensions_the_local_server_lacks_are_refused_by_name(
    project: Project, pg: LocalServer, pg15: LocalServer, tmp_path: Path
) -> None:
    # PostgreSQL 15 from Debian has pgcrypto and uuid-ossp; the embedded build has neither.
    dump = pg15_dump(pg15, tmp_path, SOURCE_SQL + EXTENSIONS_SQL, pg15_bin_dir())
    project.configure({"app": "needsext"})
    before = database_names(pg)
    refused = project.run("db.load-clone", "--dump", str(dump))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stderr.splitlines() == [
        f"prodclone: {dump.name} needs the extensions pgcrypto, uuid-ossp, which the embedded "
        "server does not have; nothing was changed. Point prodclone.local.url "
        "(INVOKE_PRODCLONE_LOCAL_URL) at a server that has them (a docker-compose recipe is in "
        "docs/local-server.md)"
    ]
    assert database_names(pg) == before


def test_the_fresh_build_round_trips_on_a_pg15_local_server(
    project: Project, pg15: LocalServer
) -> None:
    # The round trip takes pg_dump and pg_restore of the server's own major: the packaged
    # PostgreSQL 18 pg_restore cannot write to a PostgreSQL 15 server.
    (project.root / "migrate.sql").write_text(
        "CREATE TABLE item (id int PRIMARY KEY, kind varchar(5) CHECK (kind IN ('a', 'b')));"
    )
    project.configure(
        {
            "app": "fresh15",
            "local": {"url": pg15.base_url, "keep_spare": False},
            "commands": {"migrate": "psql -X -q -v ON_ERROR_STOP=1 -f migrate.sql"},
        }
    )
    built = project.run("db.fresh")
    assert built.returncode == 0, built.stdout + built.stderr
    with psycopg.connect(pg15.url("fresh15_fresh")) as conn:
        comment = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
            " WHERE datname = 'fresh15_fresh'"
        ).fetchone()
        assert conn.execute("SELECT count(*) FROM item").fetchone() == (0,)
    assert comment is not None and str(comment[0]).startswith("prodclone:")
    assert project.run("db.drop-clone", "--yes", "--fresh").returncode == 0
