"""User-defined types: enums, domains, composite types and range types."""

from __future__ import annotations

from prodclone.schema.kinds.base import Kind, fixed
from prodclone.schema.kinds.sqlparts import (
    comment,
    not_extension_member,
    owner_comment_privileges,
    qualified,
    user_schema,
)

_COMMON = owner_comment_privileges("pg_type", "t.oid", "t.typowner", "t.typacl", "T")

_FROM = """
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace"""

_WHERE = f"{user_schema('n')} AND {not_extension_member('pg_type', 't.oid')}"

# A collation named only when it is not the type's own default.
_COLLATION = f"""(SELECT {qualified("cn.nspname", "co.collname")} FROM pg_catalog.pg_collation co
   JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = {{coll}})"""

ENUMS = Kind(
    "enum",
    # Labels in their order; `enumsortorder` values differ when ADD VALUE was used.
    fixed(
        f"""
SELECT {qualified("n.nspname", "t.typname")} AS name,
       (SELECT pg_catalog.array_agg(e.enumlabel ORDER BY e.enumsortorder)
          FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) AS labels,{_COMMON}
{_FROM}
WHERE t.typtype = 'e' AND {_WHERE}
"""
    ),
)

DOMAINS = Kind(
    "domain",
    fixed(
        f"""
SELECT {qualified("n.nspname", "t.typname")} AS name,
       pg_catalog.format_type(t.typbasetype, t.typtypmod) AS base_type,
       t.typnotnull AS not_null,
       t.typdefault AS default,
       CASE WHEN t.typcollation <> bt.typcollation
            THEN {_COLLATION.format(coll="t.typcollation")} END AS collation,
       (SELECT pg_catalog.array_agg(c.conname || ': ' || pg_catalog.pg_get_constraintdef(c.oid)
                                    || COALESCE(' COMMENT ' || pg_catalog.quote_literal(
                                         {comment("pg_constraint", "c.oid")}), '')
                                    ORDER BY c.conname)
          FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid) AS constraints,{_COMMON}
{_FROM}
JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
WHERE t.typtype = 'd' AND {_WHERE}
"""
    ),
)

COMPOSITES = Kind(
    "composite type",
    fixed(
        f"""
SELECT {qualified("n.nspname", "t.typname")} AS name,
       (SELECT pg_catalog.array_agg(
                 a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
                 || COALESCE(' COLLATE ' || CASE WHEN a.attcollation <> at.typcollation
                    THEN {_COLLATION.format(coll="a.attcollation")} END, '')
                 ORDER BY a.attnum)
          FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type at ON at.oid = a.atttypid
          WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) AS attributes,
       {_COMMON}
{_FROM}
JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
WHERE t.typtype = 'c' AND c.relkind = 'c' AND {_WHERE}
"""
    ),
)


def _ranges(version: int) -> str:
    multirange = "r.rngmultitypid::pg_catalog.regtype::text" if version >= 140000 else "NULL::text"
    return f"""
SELECT {qualified("n.nspname", "t.typname")} AS name,
       pg_catalog.format_type(r.rngsubtype, NULL) AS subtype,
       {_COLLATION.format(coll="r.rngcollation")} AS collation,
       (SELECT oc.opcname FROM pg_catalog.pg_opclass oc WHERE oc.oid = r.rngsubopc) AS opclass,
       NULLIF(r.rngcanonical::text, '-') AS canonical,
       NULLIF(r.rngsubdiff::text, '-') AS subdiff,
       {multirange} AS multirange,{_COMMON}
{_FROM}
JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid
WHERE t.typtype = 'r' AND {_WHERE}
"""


RANGES = Kind("range type", _ranges)
