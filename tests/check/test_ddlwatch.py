"""The migration watch: locks, rewrites and scans seen from inside the migration's session."""

from __future__ import annotations

import subprocess

import psycopg

from prodclone.check import ddlwatch
from prodclone.check.ddlwatch import KnownTable, WatchReport
from prodclone.local.server import LocalServer
from prodclone.pg.tools import find_tool
from tests.conftest import run_sql

SETUP = """
CREATE TABLE accounts (id int PRIMARY KEY, name varchar(40));
INSERT INTO accounts SELECT g, 'a' || g FROM generate_series(1, 5000) g;
"""


def known_tables(conn: psycopg.Connection) -> dict[int, KnownTable]:
    rows = conn.execute(
        "SELECT c.oid::bigint, 'public.' || relname, pg_relation_size(c.oid) FROM pg_class c "
        "WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
    ).fetchall()
    return {oid: KnownTable(name, 5000, size) for oid, name, size in rows}


def watched(pg: LocalServer, db: str, migration: str, whole: bool = False) -> WatchReport:
    """Run `migration` under the watch in a separate session: with psql (statement by
    statement), or `whole`, as one query string (as migration tools send a file)."""
    with psycopg.connect(pg.url(db), autocommit=True) as conn:
        tables = known_tables(conn)
        with ddlwatch.watching(conn) as report:
            if whole:
                with psycopg.connect(pg.url(db), autocommit=True) as migration_conn:
                    migration_conn.execute(migration)
            else:
                subprocess.run(
                    [
                        str(find_tool("psql", pg.major_version(), pg.extra_bin_dirs)),
                        *("-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.url(db)),
                    ],
                    input=migration,
                    text=True,
                    check=True,
                    capture_output=True,
                )
        current = {oid: name for oid, name in known_tables(conn).items()}
        ddlwatch.analyse(report, tables, {oid: t.name for oid, t in current.items()})
        # Nothing of the watch is left behind.
        assert conn.execute("SELECT count(*) FROM pg_event_trigger").fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'prodclone_watch'"
        ).fetchone() == (0,)
    return report


def test_a_quick_rename_shows_its_access_exclusive_lock_every_time(
    pg: LocalServer, fresh_db: str
) -> None:
    run_sql(pg, fresh_db, SETUP)
    seen = 0
    for run in range(20):
        old, new = ("accounts", "clients") if run % 2 == 0 else ("clients", "accounts")
        report = watched(pg, fresh_db, f"ALTER TABLE {old} RENAME TO {new};\n")
        locks = [(lock.statement, lock.mode_name) for lock in report.locks]
        if (f"ALTER TABLE {old} RENAME TO {new}", "ACCESS EXCLUSIVE") in locks:
            seen += 1
        assert all(lock.seconds is not None and lock.seconds >= 0 for lock in report.locks)
    assert seen == 20


def test_a_column_type_change_is_named_as_a_rewrite_and_scans_are_named(
    pg: LocalServer, fresh_db: str
) -> None:
    run_sql(pg, fresh_db, SETUP)
    report = watched(
        pg,
        fresh_db,
        "BEGIN;\n"
        "ALTER TABLE accounts ALTER COLUMN id TYPE bigint;\n"
        "ALTER TABLE accounts ADD CONSTRAINT positive CHECK (id > 0);\n"
        "ALTER TABLE accounts ADD CONSTRAINT short CHECK (length(name) < 40) NOT VALID;\n"
        "COMMIT;\n"
        "ALTER TABLE accounts ALTER COLUMN name TYPE text;\n",
    )
    work = [(w.kind, w.statement, w.table, w.why) for w in report.work]
    assert work == [
        (
            "rewrite",
            "ALTER TABLE accounts ALTER COLUMN id TYPE bigint",
            "public.accounts",
            "table rewritten: a column's type changed",
        ),
        (
            "scan",
            "ALTER TABLE accounts ADD CONSTRAINT positive CHECK (id > 0)",
            "public.accounts",
            "a CHECK constraint added without NOT VALID scans every row",
        ),
    ]
    assert all(w.size_bytes > 0 and w.rows == 5000 for w in report.work)
    modes = {(lock.statement, lock.mode_name) for lock in report.locks}
    # One transaction: the lock the first statement took is held until COMMIT.
    assert ("ALTER TABLE accounts ALTER COLUMN id TYPE bigint", "ACCESS EXCLUSIVE") in modes
    assert ("ALTER TABLE accounts ALTER COLUMN name TYPE text", "ACCESS EXCLUSIVE") in modes
    assert len(report.locks) == 2, [(x.statement, x.mode) for x in report.locks]


def test_a_file_sent_as_one_query_names_each_statement(pg: LocalServer, fresh_db: str) -> None:
    run_sql(pg, fresh_db, SETUP + "CREATE TABLE audit (id int);")
    report = watched(
        pg,
        fresh_db,
        "CREATE TABLE other (id int);\n"
        "DO $$ BEGIN EXECUTE 'ALTER TABLE audit ADD COLUMN note text'; END $$;\n"
        "ALTER TABLE accounts RENAME COLUMN name TO label;\n",
        whole=True,
    )
    assert [(lock.statement, lock.table, lock.mode_name) for lock in report.locks] == [
        (
            "ALTER TABLE public.audit (run inside another statement)",
            "public.audit",
            "ACCESS EXCLUSIVE",
        ),
        ("ALTER TABLE accounts RENAME COLUMN name TO label", "public.accounts", "ACCESS EXCLUSIVE"),
    ]


def test_a_scan_names_the_table_its_statement_names(pg: LocalServer, fresh_db: str) -> None:
    # One transaction: the session already holds a lock on `accounts` when the CHECK on
    # `customers` is added, and the scan is of `customers`, not of the first table locked.
    run_sql(
        pg,
        fresh_db,
        "CREATE TABLE customers (id int PRIMARY KEY, status text CONSTRAINT known CHECK (status"
        " IN ('a', 'b')));\n" + SETUP,
    )
    report = watched(
        pg,
        fresh_db,
        "BEGIN;\n"
        "ALTER TABLE accounts RENAME COLUMN name TO label;\n"
        "ALTER TABLE customers DROP CONSTRAINT known;\n"
        "ALTER TABLE customers ADD CONSTRAINT known CHECK (status IN ('a', 'b', 'c'));\n"
        "COMMIT;\n",
    )
    scans = [(w.kind, w.table) for w in report.work]
    assert scans == [("scan", "public.customers")]
