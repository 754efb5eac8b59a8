"""Databases on the local server, and the mark that says which ones are ours.

Each database this tool creates carries a comment starting with `prodclone:`;
nothing without it is ever dropped, renamed or reset.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import psycopg
from psycopg import sql

from prodclone.errors import ProdcloneError
from prodclone.faults import checkpoint

MARK = "prodclone:"


@dataclass(frozen=True)
class DatabaseInfo:
    name: str
    comment: str
    size_bytes: int

    @property
    def ours(self) -> bool:
        return self.comment.startswith(MARK)

    @property
    def role(self) -> str:
        """What the mark says it is: clone, template, spare, fresh, staging."""
        return (
            self.comment[len(MARK) :].split()[0]
            if self.ours and len(self.comment) > len(MARK)
            else ""
        )


def list_databases(conn: psycopg.Connection) -> list[DatabaseInfo]:
    rows = conn.execute(
        """
        SELECT d.datname, coalesce(shobj_description(d.oid, 'pg_database'), ''),
               pg_database_size(d.oid)
        FROM pg_database d
        WHERE d.datallowconn OR shobj_description(d.oid, 'pg_database') LIKE 'prodclone:%'
        ORDER BY d.datname
        """
    ).fetchall()
    return [DatabaseInfo(name, comment, int(size)) for name, comment, size in rows]


def find(conn: psycopg.Connection, name: str) -> DatabaseInfo | None:
    row = conn.execute(
        "SELECT datname, coalesce(shobj_description(oid, 'pg_database'), ''), 0 "
        "FROM pg_database WHERE datname = %s",
        (name,),
    ).fetchone()
    return DatabaseInfo(row[0], row[1], 0) if row else None


def mark(conn: psycopg.Connection, name: str, comment: str) -> None:
    conn.execute(
        sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            sql.Identifier(name), sql.Literal(MARK + comment)
        )
    )


def require_ours_or_absent(conn: psycopg.Connection, name: str) -> DatabaseInfo | None:
    info = find(conn, name)
    if info is not None and not info.ours:
        raise ProdcloneError(
            f"database {name!r} exists but was not made by prodclone; refusing to touch it "
            "(name another in prodclone.local.clone_db or prodclone.local.fresh_db, "
            "or drop it yourself)"
        )
    return info


def terminate_connections(conn: psycopg.Connection, name: str) -> int:
    """End every other session on `name` (the app may be running against it)."""
    rows = conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    ).fetchall()
    return len(rows)


def drop(conn: psycopg.Connection, name: str) -> bool:
    """Drop one of our databases, ending its sessions; False when it did not exist."""
    if require_ours_or_absent(conn, name) is None:
        return False
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return True


def create(conn: psycopg.Connection, name: str, comment: str, template: str | None = None) -> None:
    """Create `name` (empty, or a file copy of `template`) and mark it ours.

    Callers make sure `name` is absent first, so a database of that name found
    unmarked after an interruption is the one this call created.
    """
    if template is None:
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
    else:
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
            sql.Identifier(name), sql.Identifier(template)
        )
    try:
        conn.execute(statement)
        checkpoint("database-created")  # a kill here leaves it unmarked: see the fault tests
        mark(conn, name, comment)
    except psycopg.Error:
        raise
    except BaseException:
        # Ctrl-C between the two statements (or while psycopg cancelled a CREATE that had
        # already finished) would leave an unmarked database that every later run refuses
        # to touch: mark it before giving way.
        with contextlib.suppress(psycopg.Error):
            found = find(conn, name)
            if found is not None and not found.ours:
                mark(conn, name, comment)
        raise


def rename(conn: psycopg.Connection, old: str, new: str) -> None:
    conn.execute(
        sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new))
    )
