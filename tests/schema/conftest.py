"""Fixtures for the schema-diff tests: databases built from SQL, dropped at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg import sql

from prodclone.local.server import LocalServer
from tests.schema.helpers import Databases, databases


@pytest.fixture(scope="module")
def dbs(pg: LocalServer) -> Iterator[Databases]:
    with databases(pg, "sd") as created:
        yield created


@pytest.fixture(scope="session")
def reader_role(pg: LocalServer) -> str:
    """A role that exists in the cluster, to grant to and to own objects."""
    with pg.connect() as conn:
        for role in ("sd_reader", "sd_owner"):
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
    return "sd_reader"
