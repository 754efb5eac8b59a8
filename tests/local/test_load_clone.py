"""db.load-clone, db.fresh and db.drop-clone as a user runs them, on a real server."""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from prodclone.local.copies import background_idle, copy_database
from prodclone.local.embedded import bin_dir
from prodclone.local.loader import belongs_to_clone
from prodclone.local.lock import LOCK_KEY
from prodclone.local.server import LocalServer
from prodclone.pg import databases
from tests.conftest import Project, run_sql
from tests.scratch import scratch_database
from tests.terminal import second_terminal, start_inv

SOURCE_SQL = """
CREATE TYPE status AS ENUM ('new', 'done');
CREATE TABLE customer (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, state status);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint REFERENCES customer,
                     total numeric(10,2));
INSERT INTO customer (email, state)
  SELECT 'user' || g || '@example.com', CASE WHEN g % 2 = 0 THEN 'new' ELSE 'done' END::status
  FROM generate_series(1, 500) g;
INSERT INTO orders (customer_id, total) SELECT 1 + g % 500, g * 1.5 FROM generate_series(1, 2000) g;
"""


def fingerprint(pg: LocalServer, dbname: str) -> tuple[object, ...]:
    """Row counts and a content hash of every table: what a reset must bring back."""
    with psycopg.connect(pg.url(dbname)) as conn:
        return tuple(
            conn.execute(
                f"SELECT count(*), md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {table} t"
            ).fetchone()
            for table in ("customer", "orders")
        )


def make_dump(pg: LocalServer, dump_dir: Path, extra_sql: str = "", name: str = "") -> Path:
    dump_dir.mkdir(parents=True, exist_ok=True)
    path = dump_dir / (name or f"prod-{time.strftime('%Y%m%dT%H%M%S')}{uuid.uuid4().hex[:4]}Z.dump")
    with scratch_database(pg, "src", sql_text=SOURCE_SQL + extra_sql) as source:
        dump = [str(bin_dir() / "pg_dump"), "-Fc", "-f", str(path), pg.url(source)]
        subprocess.run(dump, check=True)
    return path


@pytest.fixture
def app_project(project: Project) -> Project:
    """A project whose app name (and so clone name) no other test uses."""
    app = f"app_{uuid.uuid4().hex[:8]}"
    project.configure({"app": app})
    project.app = app  # type: ignore[attr-defined]
    return project


def clone_of(project: Project) -> str:
    return f"{project.app}_prod_clone"  # type: ignore[attr-defined]


def wait_spare(project: Project) -> None:
    with background_idle(project.data_dir):
        pass


def inv_in_background(project: Project, *args: str) -> subprocess.Popen[str]:
    """`inv ARGS` in the project, left running; `tests.terminal.second_terminal` stops it too."""
    return start_inv(project.root, *args)


def list_in(pg: LocalServer) -> list[databases.DatabaseInfo]:
    with pg.connect() as conn:
        return databases.list_databases(conn)


def blocked_session(
    conn: psycopg.Connection, process: subprocess.Popen[str], where: str, value: str
) -> bool:
    """Wait until a session matching `where` waits for a lock; False if `process` ends first."""
    while process.poll() is None:
        row = conn.execute(
            f"SELECT 1 FROM pg_stat_activity WHERE {where} AND wait_event_type = 'Lock'",
            (value,),
        ).fetchone()
        if row:
            return True
        time.sleep(0.1)
    return False


def test_first_load_restores_then_resets_bring_back_the_dump(
    app_project: Project, pg: LocalServer
) -> None:
    app = app_project.app  # type: ignore[attr-defined]
    app_project.configure({"app": app, "local": {"keep_spare": False}})
    dump = make_dump(pg, app_project.root / "dump")
    first = app_project.run("db.load-clone")
    assert first.returncode == 0, first.stderr
    assert "restored in full" in first.stdout
    assert re.search(r"restoring prod-\S+\.dump\b.* (\d+)/\1 ", first.stdout), first.stdout
    clone = clone_of(app_project)
    original = fingerprint(pg, clone)
    assert original[0][0] == 500 and original[1][0] == 2000  # type: ignore[index]

    # The app (or a migration) changes the clone; a reset brings the dump's state back.
    run_sql(pg, clone, "DELETE FROM orders WHERE id % 3 = 0; UPDATE customer SET email = 'x' || id")
    assert fingerprint(pg, clone) != original
    second = app_project.run("db.load-clone", "--dump", str(dump))
    assert second.returncode == 0, second.stderr
    assert "copied from its template" in second.stdout
    assert fingerprint(pg, clone) == original

    # With a spare ready, the reset is a rename.
    app_project.configure({"app": app})
    run_sql(pg, clone, "TRUNCATE orders")
    app_project.run("db.load-clone")
    wait_spare(app_project)
    run_sql(pg, clone, "TRUNCATE orders")
    third = app_project.run("db.load-clone")
    assert third.returncode == 0, third.stderr
    assert "swapped in from a ready copy" in third.stdout
    assert fingerprint(pg, clone) == original

    forced = app_project.run("db.load-clone", "--restore", "--jobs", "1")
    assert forced.returncode == 0, forced.stderr
    assert "restored in full" in forced.stdout
    assert fingerprint(pg, clone) == original


def test_copies_left_without_their_mark_are_rebuilt(app_project: Project, pg: LocalServer) -> None:
    """As a Ctrl-C between a copy's rename and its mark once left it."""
    make_dump(pg, app_project.root / "dump")
    assert app_project.run("db.load-clone").returncode == 0
    wait_spare(app_project)
    template = next(
        db.name for db in list_in(pg) if db.name.startswith(clone_of(app_project) + "__tpl_")
    )
    spare = template.replace("__tpl_", "__spare_")
    with pg.connect() as conn:
        databases.mark(conn, template, "staging restore")
    again = app_project.run("db.load-clone")
    assert again.returncode == 0, again.stderr
    assert "restored in full" in again.stdout
    assert any(db.name == template and db.role == "template" for db in list_in(pg))

    # The same for a spare: it is built again rather than kept, unused, forever.
    wait_spare(app_project)
    with pg.connect() as conn:
        databases.mark(conn, spare, "staging spare")
    assert "copied from its template" in app_project.run("db.load-clone").stdout
    wait_spare(app_project)
    assert any(db.name == spare and db.role == "spare" for db in list_in(pg))
    assert "swapped in from a ready copy" in app_project.run("db.load-clone").stdout


def test_reset_ends_sessions_on_the_clone(app_project: Project, pg: LocalServer) -> None:
    make_dump(pg, app_project.root / "dump")
    assert app_project.run("db.load-clone").returncode == 0
    app_conn = psycopg.connect(pg.url(clone_of(app_project)))  # the app, still running
    result = app_project.run("db.load-clone")
    assert result.returncode == 0, result.stderr
    with pytest.raises(psycopg.OperationalError):
        app_conn.execute("SELECT 1")
    app_conn.close()


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def test_missing_roles_are_created_nologin(app_project: Project, pg: LocalServer) -> None:
    """Prod's roles, odd names included, own and read the clone's objects as they did there."""
    tag = uuid.uuid4().hex[:6]
    owner, reader, quote_name, defaults = (
        f"Prod Owner {tag}",  # upper case and a space
        f"prod_reader_{tag}",
        f'odd"role_{tag}',
        f"Later_Reader_{tag}",  # only in ALTER DEFAULT PRIVILEGES
    )
    roles = (owner, reader, quote_name, defaults)
    with pg.connect() as conn:
        for role in roles:
            conn.execute(f"CREATE ROLE {quoted(role)} LOGIN")
    make_dump(
        pg,
        app_project.root / "dump",
        f"""
        ALTER TABLE orders OWNER TO {quoted(owner)};
        GRANT SELECT ON customer TO {quoted(reader)}, {quoted(quote_name)};
        ALTER DEFAULT PRIVILEGES FOR ROLE {quoted(owner)} IN SCHEMA public
          GRANT SELECT ON TABLES TO {quoted(defaults)};
        """,
    )
    with pg.connect() as conn:
        for role in roles:
            conn.execute(f"DROP OWNED BY {quoted(role)}")
            conn.execute(f"DROP ROLE {quoted(role)}")
    result = app_project.run("db.load-clone")
    assert result.returncode == 0, result.stderr
    assert "created NOLOGIN roles" in result.stdout
    for role in roles:
        assert role in result.stdout
    with psycopg.connect(pg.url(clone_of(app_project))) as conn:
        owner_row = conn.execute(
            "SELECT tableowner FROM pg_tables WHERE tablename = 'orders'"
        ).fetchone()
        assert owner_row == (owner,)
        can_login = conn.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s) AND NOT rolcanlogin",
            (list(roles),),
        ).fetchone()
        assert can_login == (len(roles),)
        for role in (reader, quote_name):
            granted = conn.execute(
                "SELECT has_table_privilege(%s, 'customer', 'SELECT')", (role,)
            ).fetchone()
            assert granted == (True,), role
        default_acl = conn.execute(
            "SELECT defaclacl::text FROM pg_default_acl WHERE defaclrole = %s::regrole",
            (quoted(owner),),
        ).fetchone()
        assert default_acl is not None and defaults in default_acl[0]


def test_roles_come_from_statements_not_from_text_that_reads_like_them(
    app_project: Project, pg: LocalServer
) -> None:
    """A policy's string or a function body saying `TO someone` creates no role `someone`."""
    tag = uuid.uuid4().hex[:6]
    viewer, market, body = f"viewer_{tag}", f"market_{tag}", f"body_{tag}"
    with pg.connect() as conn:
        conn.execute(f"CREATE ROLE {viewer}")
    make_dump(
        pg,
        app_project.root / "dump",
        f"""
        ALTER TABLE customer ENABLE ROW LEVEL SECURITY;
        CREATE POLICY shown ON customer TO {viewer} USING (email <> 'GO TO {market}');
        CREATE POLICY hidden ON customer USING (email <> 'x
        GO TO {market}');
        CREATE FUNCTION note() RETURNS text LANGUAGE sql AS $f$SELECT '
        GRANT ALL ON customer TO {body}'$f$;
        """,
    )
    with pg.connect() as conn:
        conn.execute(f"DROP OWNED BY {viewer}")
        conn.execute(f"DROP ROLE {viewer}")
    result = app_project.run("db.load-clone")
    assert result.returncode == 0, result.stderr
    assert f"created NOLOGIN roles the dump references: {viewer}\n" in result.stdout
    with pg.connect() as conn:
        made = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", ([viewer, market, body],)
        ).fetchall()
    assert made == [(viewer,)]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "does not exist"),
        ("empty", "is empty"),
        ("garbage", "is not a pg_dump custom-format file"),
        ("truncated", "failed"),
    ],
)
def test_bad_dumps_are_refused_and_the_clone_survives(
    app_project: Project, pg: LocalServer, kind: str, message: str
) -> None:
    good = make_dump(pg, app_project.root / "dump")
    assert app_project.run("db.load-clone").returncode == 0
    clone = clone_of(app_project)
    before = fingerprint(pg, clone)

    bad = app_project.root / f"bad-{kind}.dump"
    if kind == "empty":
        bad.write_bytes(b"")
    elif kind == "garbage":
        bad.write_bytes(os.urandom(4096))
    elif kind == "truncated":
        data = good.read_bytes()
        bad.write_bytes(data[: len(data) * 2 // 3])
    result = app_project.run("db.load-clone", "--dump", str(bad))
    assert result.returncode != 0
    assert message in result.stderr
    assert result.stderr.strip().startswith("prodclone:")
    assert fingerprint(pg, clone) == before
    with pg.connect() as conn:
        leftovers = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (clone + "__restoring%",)
        ).fetchall()
    assert leftovers == []


def test_no_dump_at_all_says_what_to_do(app_project: Project) -> None:
    result = app_project.run("db.load-clone")
    assert result.returncode == 1
    assert "no dump found" in result.stderr
    assert "db.clone-prod" in result.stderr


def test_foreign_databases_are_never_touched(app_project: Project, pg: LocalServer) -> None:
    clone = clone_of(app_project)
    foreign_spare = f"{clone}__tpl_000000000000"
    with pg.connect() as conn:
        conn.execute(f'CREATE DATABASE "{clone}"')  # someone's own database, same name
        conn.execute(f'CREATE DATABASE "{foreign_spare}"')
    make_dump(pg, app_project.root / "dump")
    refused = app_project.run("db.load-clone")
    assert refused.returncode == 1
    assert "was not made by prodclone" in refused.stderr

    dropped = app_project.run("db.drop-clone", "--yes", "--fresh")
    assert dropped.returncode == 0, dropped.stderr
    with pg.connect() as conn:
        names = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
        assert clone in names and foreign_spare in names
        conn.execute(f'DROP DATABASE "{clone}"')
        conn.execute(f'DROP DATABASE "{foreign_spare}"')


def test_a_copy_onto_an_existing_database_fails_and_drops_nothing(
    pg: LocalServer, fresh_db: str
) -> None:
    run_sql(pg, fresh_db, "CREATE TABLE keep (id int)")
    with pg.connect() as conn, pytest.raises(psycopg.errors.DuplicateDatabase):
        copy_database(conn, fresh_db, "template1", "staging")
    with psycopg.connect(pg.url(fresh_db)) as conn:
        assert conn.execute("SELECT to_regclass('keep') IS NOT NULL").fetchone() == (True,)


def test_drop_clone_asks_drops_ours_and_is_idempotent(
    app_project: Project, pg: LocalServer
) -> None:
    dump = make_dump(pg, app_project.root / "dump")
    assert app_project.run("db.load-clone").returncode == 0
    wait_spare(app_project)

    unconfirmed = app_project.run("db.drop-clone")
    assert unconfirmed.returncode == 1
    assert "--yes" in unconfirmed.stderr

    dry = app_project.run("db.drop-clone", "--dry-run", "--dumps")
    assert dry.returncode == 0
    assert f"would drop database {clone_of(app_project)} " in dry.stdout
    assert dump.exists()
    assert any(db.name == clone_of(app_project) for db in list_in(pg))

    result = app_project.run("db.drop-clone", "--yes", "--dumps")
    assert result.returncode == 0, result.stderr
    assert not dump.exists()
    with pg.connect() as conn:
        left = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            (clone_of(app_project) + "%",),
        ).fetchall()
    assert left == []
    again = app_project.run("db.drop-clone", "--yes")
    assert again.returncode == 0
    assert "nothing to drop" in again.stdout


def test_drop_right_after_a_load_leaves_no_spare_behind(
    app_project: Project, pg: LocalServer
) -> None:
    """The spare is still being built in the background when drop-clone starts."""
    make_dump(pg, app_project.root / "dump")
    assert app_project.run("db.load-clone").returncode == 0
    result = app_project.run("db.drop-clone", "--yes")
    assert result.returncode == 0, result.stderr
    with pg.connect() as conn:
        left = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            (clone_of(app_project) + "%",),
        ).fetchall()
    assert left == []


def test_second_command_waits_for_the_first(app_project: Project, pg: LocalServer) -> None:
    make_dump(pg, app_project.root / "dump")
    holder = psycopg.connect(pg.url("postgres"), autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    with second_terminal(app_project.root, "db.load-clone") as waiting:
        try:
            with pg.connect() as conn:
                assert blocked_session(conn, waiting.process, "wait_event = %s", "advisory"), (
                    waiting.finish()
                )
            assert waiting.process.poll() is None  # still waiting, nothing done yet
            assert not any(belongs_to_clone(db, clone_of(app_project)) for db in list_in(pg))
        finally:
            holder.close()
        out, err = waiting.finish()
    assert waiting.returncode == 0, err
    assert "another prodclone command is working on the local databases" in err
    assert "restored in full" in out


def test_ctrl_c_while_waiting_for_the_lock_changes_nothing(
    app_project: Project, pg: LocalServer
) -> None:
    make_dump(pg, app_project.root / "dump")
    assert app_project.run("db.load-clone").returncode == 0
    clone = clone_of(app_project)
    before = fingerprint(pg, clone)
    holder = psycopg.connect(pg.url("postgres"), autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    try:
        with second_terminal(app_project.root, "db.drop-clone", "--yes") as waiting:
            assert blocked_session(holder, waiting.process, "wait_event = %s", "advisory")
            waiting.interrupt()
            _, err = waiting.finish()
    finally:
        holder.close()
    assert waiting.returncode == 130
    assert "prodclone: interrupted" in err
    assert fingerprint(pg, clone) == before


def test_fresh_runs_migrate_and_reports_its_failure(app_project: Project, pg: LocalServer) -> None:
    app = app_project.app  # type: ignore[attr-defined]
    app_project.configure(
        {
            "app": app,
            "commands": {"migrate": "psql -v ON_ERROR_STOP=1 -c 'CREATE TABLE t (id int)'"},
            "local": {"db_env": {"APP_DB_NAME": "{db}"}},
        }
    )
    ok = app_project.run("db.fresh")
    assert ok.returncode == 0, ok.stderr
    with psycopg.connect(pg.url(f"{app}_fresh")) as conn:
        assert conn.execute("SELECT to_regclass('t') IS NOT NULL").fetchone() == (True,)

    app_project.configure(
        {
            "app": app,
            "commands": {
                "migrate": 'echo "migrating $APP_DB_NAME ($PGDATABASE) at $APP_URL"; '
                'echo "DATABASE_URL=$DATABASE_URL"; echo "boom: bad column" >&2; exit 3'
            },
            "local": {"db_env": {"APP_DB_NAME": "{db}", "APP_URL": "{url}"}},
        }
    )
    failed = app_project.run("db.fresh")
    assert failed.returncode == 1
    url = pg.url(f"{app}_fresh")
    assert f"  [migrate] migrating {app}_fresh ({app}_fresh) at {url}\n" in failed.stdout
    assert f"  [migrate] DATABASE_URL={url}\n" in failed.stdout
    assert "migrate command exited 3" in failed.stderr
    assert "boom: bad column" in failed.stderr

    dropped = app_project.run("db.drop-clone", "--yes", "--fresh")
    assert f"dropped database {app}_fresh" in dropped.stdout


def test_fresh_name_follows_the_fresh_db_rule(app_project: Project, pg: LocalServer) -> None:
    app_project.configure({"commands": {"migrate": "true"}})
    result = app_project.run("db.fresh", "--name", "Bad Name")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "prodclone: --name must be a database name of letters, digits and _ up to 40 long "
        "(got 'Bad Name')"
    ]
    with pg.connect() as conn:
        assert databases.find(conn, "Bad Name") is None


def test_fresh_without_a_migrate_command_names_the_key(app_project: Project) -> None:
    result = app_project.run("db.fresh")
    assert result.returncode == 2
    assert "prodclone.commands.migrate is not set" in result.stderr
    assert result.stdout == ""  # stopped before doing or announcing anything


# Rows restored into `gated` wait in their CHECK while the gate file exists (a name in
# the server's data folder, which the server's own user can see), so the restore can
# be interrupted at a known point: mid-COPY. A file, not a lock: a lock
# that reaches across databases is one on a shared catalog, and that holds up every
# new session whenever autovacuum has made the server rebuild its shared relcache.
GATED_SQL = """
CREATE FUNCTION pass_gate(n int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  WHILE (pg_stat_file('{gate}', true)).size IS NOT NULL LOOP
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN n > 0;
END $$;
CREATE TABLE gated (n int CHECK (pass_gate(n)));
INSERT INTO gated SELECT generate_series(1, 10);
"""


def gated_session(conn: psycopg.Connection, process: subprocess.Popen[str], dbname: str) -> bool:
    """Wait until a session in `dbname` waits at the gate; False if `process` ends first."""
    while process.poll() is None:
        row = conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND wait_event = 'PgSleep'",
            (dbname,),
        ).fetchone()
        if row:
            return True
        time.sleep(0.05)
    return False


def test_ctrl_c_mid_restore_leaves_the_old_clone_and_no_staging_database(
    app_project: Project, pg: LocalServer
) -> None:
    gate = f"prodclone-test-gate-{uuid.uuid4().hex[:8]}"
    gate_file = app_project.data_dir / "pgdata" / gate
    make_dump(pg, app_project.root / "dump", GATED_SQL.format(gate=gate))
    assert app_project.run("db.load-clone").returncode == 0
    clone = clone_of(app_project)
    before = fingerprint(pg, clone)
    wait_spare(app_project)

    gate_file.touch()
    try:
        with second_terminal(app_project.root, "db.load-clone", "--restore") as loading:
            with pg.connect() as conn:
                reached = gated_session(conn, loading.process, clone + "__restoring")
            assert reached, f"the restore never reached the gated table: {loading.finish()}"
            loading.interrupt()
            _, err = loading.finish()
    finally:
        gate_file.unlink(missing_ok=True)
    assert loading.returncode == 130, err
    assert "prodclone: interrupted" in err
    assert fingerprint(pg, clone) == before
    with pg.connect() as conn:
        staging = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (clone + "\\_\\_%",)
        ).fetchall()
        restoring = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (clone + "__restoring",)
        ).fetchone()
    assert all(not name.endswith(("__restoring", "__next")) for (name,) in staging), staging
    assert restoring == (0,)  # pg_restore and its workers are gone
    again = app_project.run("db.load-clone")
    assert again.returncode == 0, again.stderr
    assert fingerprint(pg, clone) == before
