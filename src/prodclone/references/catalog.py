"""The functions to check, read from the catalog, with the triggers that call them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

# The database's own functions in SQL and PL/pgSQL, never an extension's members.
_ROUTINES = """
SELECT p.oid::bigint, format('%I.%I', n.nspname, p.proname) AS name, p.proname, n.nspname,
       pg_get_function_identity_arguments(p.oid) AS args,
       l.lanname, p.prosrc, p.proconfig, {atomic} AS atomic,
       p.prorettype = 'trigger'::regtype AS is_trigger,
       coalesce(p.proallargtypes, p.proargtypes::oid[])::bigint[] AS argtypes,
       CASE WHEN l.lanname = 'plpgsql' THEN pg_get_functiondef(p.oid) END AS definition
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE l.lanname IN ('sql', 'plpgsql')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY n.nspname, p.proname, p.oid
"""
_TRIGGERS = """
SELECT t.tgfoid::bigint, t.tgname, format('%I.%I', n.nspname, c.relname), c.reltype::bigint
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal
ORDER BY t.tgname
"""


@dataclass(frozen=True)
class Trigger:
    name: str
    table: str  # schema.table, quoted as needed
    rowtype: int  # the OID of the table's row type: what NEW and OLD are


@dataclass
class Routine:
    oid: int
    name: str
    proname: str
    schema: str
    args: str
    language: str
    source: str
    config: list[str]
    atomic: bool
    is_trigger: bool
    argtypes: list[int]
    definition: str
    triggers: list[Trigger] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.name}({self.args})"

    @property
    def search_path(self) -> str | None:
        """The function's own search_path (SET search_path = ...), None when it has none."""
        for item in self.config:
            key, _, value = item.partition("=")
            if key == "search_path":
                return value
        return None


def read_routines(conn: psycopg.Connection[Any]) -> list[Routine]:
    atomic = "p.prosqlbody IS NOT NULL" if conn.info.server_version >= 140000 else "false"
    routines = [
        Routine(
            oid=row[0],
            name=row[1],
            proname=row[2],
            schema=row[3],
            args=row[4],
            language=row[5],
            source=row[6],
            config=list(row[7] or []),
            atomic=row[8],
            is_trigger=row[9],
            argtypes=[int(oid) for oid in row[10]],
            definition=row[11] or "",
        )
        for row in conn.execute(_ROUTINES.format(atomic=atomic)).fetchall()
    ]
    by_oid = {routine.oid: routine for routine in routines}
    for function_oid, name, table, rowtype in conn.execute(_TRIGGERS).fetchall():
        routine = by_oid.get(function_oid)
        if routine is not None:
            routine.triggers.append(Trigger(name, table, rowtype))
    return routines
