"""Build a database, take the names, migrate, and check it as refactor-check does."""

from __future__ import annotations

import psycopg

from prodclone.local.server import LocalServer
from prodclone.references import (
    ReferenceReport,
    check_references,
    read_names,
    renames_between,
    split_preexisting,
)
from prodclone.references.render import render_text


def check(pg: LocalServer, dbname: str) -> ReferenceReport:
    with psycopg.connect(pg.url(dbname), autocommit=True) as conn:
        return check_references(conn, dbname)


def migrate_and_check(
    pg: LocalServer, dbname: str, schema: str, migration: str
) -> tuple[ReferenceReport, list[str]]:
    """The report on the migrated database, and its text lines as a user reads them."""
    with psycopg.connect(pg.url(dbname), autocommit=True) as conn:
        conn.execute(schema.encode())
        before_names = read_names(conn)
        before = check_references(conn, dbname)
        conn.execute(migration.encode())
        renames = renames_between(before_names, read_names(conn))
        after = split_preexisting(check_references(conn, dbname, renames), before)
    return after, render_text(after).splitlines()
