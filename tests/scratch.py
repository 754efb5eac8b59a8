"""A scratch database: uniquely named on the shared embedded server, always dropped after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from prodclone.local.server import LocalServer


class ScratchDatabases:
    """Makes scratch databases on `pg` and drops every one of them at `drop_all`.

    The `scratch_db` fixture gives one of these; `scratch_database` is the same for
    code that is not a test (a helper building a dump, say).
    """

    def __init__(self, pg: LocalServer) -> None:
        self.pg = pg
        self.created: list[str] = []

    def create(
        self,
        prefix: str = "t",
        *,
        sql_text: str = "",
        template: str = "",
        options: str = "",
    ) -> str:
        """A new database named `<prefix>_<random>`; `sql_text` run in it (autocommit).

        `options`: what follows the name in CREATE DATABASE (ENCODING, LC_COLLATE...),
        written by the test itself, never from input.
        """
        name = f"{prefix}_{uuid.uuid4().hex[:8]}".lower()
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        if options:
            statement += sql.SQL(" ") + sql.SQL(options)
        with self.pg.connect() as conn:
            conn.execute(statement)
        self.created.append(name)
        if sql_text:
            with psycopg.connect(self.pg.url(name), autocommit=True) as conn:
                conn.execute(sql_text.encode())
        return name

    def drop_all(self) -> None:
        with self.pg.connect() as conn:
            for name in reversed(self.created):
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
        self.created.clear()


@contextmanager
def scratch_database(pg: LocalServer, prefix: str = "t", **create: str) -> Iterator[str]:
    """One scratch database for the block, dropped when it ends however it ends."""
    made = ScratchDatabases(pg)
    try:
        yield made.create(prefix, **create)
    finally:
        made.drop_all()
