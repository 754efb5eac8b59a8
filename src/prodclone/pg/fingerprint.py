"""A short fingerprint of a database's own objects: did a command change its schema at all?

It counts and hashes the user's schemas, relations with their columns, constraints,
indexes, routines, types and extensions (not rows). Two uses: an app command that
"migrated" but left the database it was pointed at untouched, and telling whether a
fresh database is still exactly what its build left.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

_SYSTEM = """
    nspname NOT IN ('pg_catalog', 'information_schema')
    AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp%'
"""

# Every object as one line of text; an empty database (from template0) has none.
_OBJECTS = f"""
WITH user_ns AS (SELECT oid, nspname FROM pg_namespace WHERE {_SYSTEM})
SELECT count(*), md5(coalesce(string_agg(line, E'\\n' ORDER BY line), ''))
FROM (
    SELECT 'schema ' || nspname AS line FROM user_ns
    WHERE nspname <> 'public'
    UNION ALL
    SELECT format('rel %I.%I %s %s', n.nspname, c.relname, c.relkind, (
        SELECT string_agg(
            format('%I %s %s', a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull),
            ', ' ORDER BY a.attnum)
        FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped))
    FROM pg_class c JOIN user_ns n ON n.oid = c.relnamespace
    UNION ALL
    SELECT format('con %I.%I %s', n.nspname, co.conname, pg_get_constraintdef(co.oid))
    FROM pg_constraint co JOIN user_ns n ON n.oid = co.connamespace
    UNION ALL
    SELECT format('fn %s %s', p.oid::regprocedure, md5(coalesce(p.prosrc, '')))
    FROM pg_proc p JOIN user_ns n ON n.oid = p.pronamespace
    UNION ALL
    SELECT format('type %I.%I', n.nspname, t.typname)
    FROM pg_type t JOIN user_ns n ON n.oid = t.typnamespace
    WHERE t.typtype IN ('e', 'd', 'r', 'm') OR (t.typtype = 'c' AND EXISTS (
        SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c'))
    UNION ALL
    SELECT 'ext ' || extname || ' ' || extversion FROM pg_extension WHERE extname <> 'plpgsql'
) objects
"""


@dataclass(frozen=True)
class Fingerprint:
    objects: int
    digest: str

    @property
    def empty(self) -> bool:
        return self.objects == 0

    @property
    def short(self) -> str:
        return self.digest[:16]


def catalog_fingerprint(conn: psycopg.Connection) -> Fingerprint:
    row = conn.execute(_OBJECTS).fetchone()
    assert row is not None  # an aggregate always returns a row
    return Fingerprint(int(row[0]), str(row[1]))
