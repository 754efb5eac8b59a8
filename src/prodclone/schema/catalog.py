"""Read one database's schema: one consistent snapshot, one query per object kind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from prodclone.schema.errors import SchemaDiffError
from prodclone.schema.kinds import ALL_KINDS, META_PREFIX, PARENT, Kind
from prodclone.schema.model import Catalog, SchemaObject

# The oldest server the catalog queries know (pg_trigger.tgparentid, prosqlbody).
MIN_SERVER_VERSION = 140000

# pg_dump's own session settings, so expressions read back the same way it prints them.
SESSION_SETTINGS = (
    "SELECT pg_catalog.set_config('search_path', '', false), "
    "pg_catalog.set_config('DateStyle', 'ISO', false), "
    "pg_catalog.set_config('IntervalStyle', 'postgres', false), "
    "pg_catalog.set_config('extra_float_digits', '3', false)"
)


def read_catalog(conn: psycopg.Connection[Any], kinds: Sequence[Kind] = ALL_KINDS) -> Catalog:
    """Every object of `kinds` in `conn`'s database, read in one REPEATABLE READ snapshot."""
    version = conn.info.server_version
    if version < MIN_SERVER_VERSION:
        raise SchemaDiffError(
            f"server version {version // 10000} is not supported by db.schema-diff "
            f"(PostgreSQL {MIN_SERVER_VERSION // 10000} or newer)"
        )
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    catalog = Catalog(server_version=version)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(SESSION_SETTINGS)
        for kind in kinds:
            cur.execute(kind.query(version).encode())
            columns = [col.name for col in cur.description or ()]
            catalog.objects[kind.name] = _objects(kind.name, columns, cur.fetchall())
    return catalog


def _objects(kind: str, columns: list[str], rows: list[tuple[Any, ...]]) -> dict[str, SchemaObject]:
    """Rows to objects; the queries list their bookkeeping (`_`) columns right after `name`."""
    first = 1
    while first < len(columns) and columns[first].startswith(META_PREFIX):
        first += 1
    if any(column.startswith(META_PREFIX) for column in columns[first:]):
        raise AssertionError(f"the {kind} query lists a _ column after its attributes")
    fields = tuple(columns[first:])
    if PARENT not in columns:
        return {row[0]: SchemaObject(kind, row[0], fields, row[first:]) for row in rows}
    parent_at = columns.index(PARENT)
    return {row[0]: SchemaObject(kind, row[0], fields, row[first:], row[parent_at]) for row in rows}
