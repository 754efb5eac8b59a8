"""Databases on the local server, and the mark that says which ones are ours.

Each database this tool creates carries a comment starting with `prodclone:`;
nothing without it is ever dropped, renamed or reset.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from prodclone.errors import ProdcloneError
from prodclone.faults import checkpoint
from prodclone.pg import creating

MARK = "prodclone:"


@dataclass(frozen=True)
class DatabaseInfo:
    name: str
    comment: str
    size_bytes: int
    # Half dropped: PostgreSQL marks a database invalid (datconnlimit -2, PostgreSQL 15
    # and the minor releases of August 2023 on) when a DROP DATABASE is cut short.
    # Nothing can connect to it, copy it or rename it; it can only be dropped.
    invalid: bool = False

    @property
    def ours(self) -> bool:
        return self.comment.startswith(MARK)

    @property
    def role(self) -> str:
        """What the mark says it is: clone, template, spare, fresh, staging, retired."""
        return (
            self.comment[len(MARK) :].split()[0]
            if self.ours and len(self.comment) > len(MARK)
            else ""
        )

    @property
    def usable(self) -> bool:
        return self.ours and not self.invalid


_INVALID = "d.datconnlimit = -2"


def list_databases(conn: psycopg.Connection) -> list[DatabaseInfo]:
    """Databases one can connect to, and ours whatever their state; each of ours with its size.

    Another client may drop a database while this runs (or leave one half
    dropped): one that is gone by the time its size is asked is left out, and
    other clients' invalid databases are not listed at all.
    """
    rows = conn.execute(
        f"""
        SELECT d.oid, d.datname, coalesce(shobj_description(d.oid, 'pg_database'), ''),
               {_INVALID}
        FROM pg_database d
        WHERE (d.datallowconn AND NOT {_INVALID})
           OR shobj_description(d.oid, 'pg_database') LIKE 'prodclone:%'
        ORDER BY d.datname
        """
    ).fetchall()
    found = []
    for oid, name, comment, invalid in rows:
        size = _size(conn, oid) if comment.startswith(MARK) else 0
        if size is None:
            continue  # dropped since the list was read
        found.append(DatabaseInfo(name, comment, size, bool(invalid)))
    return found


def _size(conn: psycopg.Connection, oid: int) -> int | None:
    """The database's size (0 when its files are gone), or None when it is gone itself."""
    try:
        # A savepoint inside a caller's transaction, a transaction of its own otherwise.
        with conn.transaction():
            row = conn.execute("SELECT pg_database_size(%s::oid)", (oid,)).fetchone()
    except psycopg.OperationalError:
        raise  # the server itself: not something to skip
    except psycopg.DatabaseError:
        # "database with OID ... does not exist": dropped since the list was read (the
        # list may still show it, as half dropped: a drop marks that in place at once).
        return None
    # NULL: the row is there but its files are not (a drop cut short after removing them).
    return 0 if row is None or row[0] is None else int(row[0])


def find(conn: psycopg.Connection, name: str) -> DatabaseInfo | None:
    row = conn.execute(
        "SELECT d.datname, coalesce(shobj_description(d.oid, 'pg_database'), ''), "
        f"{_INVALID} FROM pg_database d WHERE d.datname = %s",
        (name,),
    ).fetchone()
    return DatabaseInfo(row[0], row[1], 0, bool(row[2])) if row else None


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


def create(
    conn: psycopg.Connection,
    name: str,
    comment: str,
    template: str | None = None,
    *,
    state_dir: Path | None = None,
) -> None:
    """Create `name` (empty, or a file copy of `template`) and mark it ours.

    Callers make sure `name` is absent first, so a database of that name found
    unmarked after an interruption is the one this call created. With
    `state_dir`, the creation is recorded there until the mark is set, so that
    the next command drops what a killed one left unmarked (see `creating`).
    """
    if template is None:
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
    else:
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
            sql.Identifier(name), sql.Identifier(template)
        )
    with creating.recorded(conn, state_dir, name):
        try:
            conn.execute(statement)
            checkpoint("database-created")  # a kill here leaves it unmarked
            mark(conn, name, comment)
        except psycopg.Error:
            raise
        except BaseException:
            # Ctrl-C between the two statements (or while psycopg cancelled a CREATE that
            # had already finished) would leave an unmarked database that every later run
            # refuses to touch: mark it before giving way.
            with contextlib.suppress(psycopg.Error):
                found = find(conn, name)
                if found is not None and not found.ours:
                    mark(conn, name, comment)
            raise


def rename(conn: psycopg.Connection, old: str, new: str) -> None:
    conn.execute(
        sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new))
    )
