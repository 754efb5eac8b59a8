"""Names by OID, taken before a migration, to tell a renamed object from a missing one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

# Relations and their columns, functions and types in the database's own schemas.
_RELATIONS = """
SELECT c.oid::bigint, n.nspname, c.relname FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
"""
_COLUMNS = """
SELECT a.attrelid::bigint, a.attnum, a.attname FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
"""
_FUNCTIONS = """
SELECT p.oid::bigint, n.nspname, p.proname FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
"""
_TYPES = """
SELECT t.oid::bigint, n.nspname, t.typname FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  AND t.typtype IN ('e', 'd', 'c', 'r', 'm') AND t.typrelid = 0
"""


@dataclass
class Names:
    """One database's names: relations, functions and types by OID, columns by (OID, attnum)."""

    objects: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)
    columns: dict[tuple[int, int], str] = field(default_factory=dict)


def read_names(conn: psycopg.Connection[Any]) -> Names:
    names = Names()
    for kind, query in (("relation", _RELATIONS), ("function", _FUNCTIONS), ("type", _TYPES)):
        for oid, schema, name in conn.execute(query).fetchall():
            names.objects[(kind, int(oid))] = (schema, name)
    for relid, attnum, attname in conn.execute(_COLUMNS).fetchall():
        names.columns[(relid, attnum)] = attname
    return names


@dataclass(frozen=True)
class Rename:
    kind: str  # relation, column, function or type
    old: str
    new: str
    where: str  # the table of a column, the schema of the others


@dataclass
class Renames:
    """What a migration renamed: the same OID (and attnum) under another name."""

    by_old_name: dict[str, list[Rename]] = field(default_factory=dict)

    def add(self, rename: Rename) -> None:
        self.by_old_name.setdefault(rename.old, []).append(rename)

    def explain(self, missing: str) -> str:
        """'was renamed to `x` by this migration' for a name that was renamed, else ''."""
        found = self.by_old_name.get(missing.rsplit(".", 1)[-1], [])
        targets = sorted({rename.new for rename in found})
        if not targets:
            return ""
        if len(targets) == 1:
            return f"was renamed to `{targets[0]}` by this migration"
        places = ", ".join(f"`{rename.new}` ({rename.where})" for rename in found)
        return f"was renamed by this migration: to {places}"

    def new_name(self, old: str) -> str:
        found = sorted({rename.new for rename in self.by_old_name.get(old, [])})
        return ", ".join(found)


def renames_between(before: Names, after: Names) -> Renames:
    renames = Renames()
    for (kind, oid), (schema, name) in before.objects.items():
        now = after.objects.get((kind, oid))
        if now is not None and now[1] != name:
            renames.add(Rename(kind, name, now[1], schema))
    for (relid, attnum), name in before.columns.items():
        now_name = after.columns.get((relid, attnum))
        if now_name is not None and now_name != name:
            table = after.objects.get(("relation", relid), ("", "?"))
            renames.add(Rename("column", name, now_name, f"{table[0]}.{table[1]}"))
    return renames
