"""Our databases stay marked as ours, even when a run is interrupted while creating one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, cast

import psycopg
import pytest
from psycopg import sql

from prodclone.local.server import LocalServer
from prodclone.pg import databases


class CtrlCAfterCreate:
    """A real connection on which Ctrl-C lands just after CREATE DATABASE returns.

    A signal cannot be aimed at the gap between two statements, so the test raises
    the KeyboardInterrupt that Python would raise there.
    """

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        result = self.conn.execute(query, *args, **kwargs)
        text = query.as_string(self.conn) if isinstance(query, sql.Composable) else str(query)
        if text.startswith("CREATE DATABASE"):
            raise KeyboardInterrupt
        return result


@pytest.fixture
def new_name(pg: LocalServer) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name
    with pg.connect() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def test_ctrl_c_after_create_leaves_the_database_marked_ours(
    pg: LocalServer, new_name: str
) -> None:
    with pg.connect() as conn:
        interrupted = cast(psycopg.Connection, CtrlCAfterCreate(conn))
        with pytest.raises(KeyboardInterrupt):
            databases.create(interrupted, new_name, "fresh")
        found = databases.find(conn, new_name)
        assert found is not None and found.ours and found.role == "fresh"
        # So the next run may drop and rebuild it.
        assert databases.drop(conn, new_name)
