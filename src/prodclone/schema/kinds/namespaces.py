"""Schemas, extensions, collations and default privileges."""

from __future__ import annotations

from prodclone.schema.kinds.base import Kind, fixed
from prodclone.schema.kinds.sqlparts import (
    comment,
    ident,
    not_extension_member,
    owner,
    privileges,
    qualified,
    user_schema,
)

SCHEMAS = Kind(
    "schema",
    fixed(
        f"""
SELECT {ident("n.nspname")} AS name,
       {owner("n.nspowner")} AS owner,
       {comment("pg_namespace", "n.oid")} AS comment,
       {privileges("n.nspacl", "n", "n.nspowner")} AS privileges
FROM pg_catalog.pg_namespace n
WHERE {user_schema("n")} AND {not_extension_member("pg_namespace", "n.oid")}
"""
    ),
)

EXTENSIONS = Kind(
    "extension",
    fixed(
        f"""
SELECT {ident("e.extname")} AS name,
       e.extversion AS version,
       {ident("n.nspname")} AS schema,
       {comment("pg_extension", "e.oid")} AS comment
FROM pg_catalog.pg_extension e
JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
"""
    ),
)


def _collations(version: int) -> str:
    # The ICU locale column moved and was renamed over the versions.
    locale = (
        "c.colllocale"
        if version >= 170000
        else "c.colliculocale"
        if version >= 150000
        else "NULL::text"
    )
    rules = "c.collicurules" if version >= 160000 else "NULL::text"
    return f"""
SELECT {qualified("n.nspname", "c.collname")} AS name,
       CASE c.collprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu'
            WHEN 'b' THEN 'builtin' ELSE 'default' END AS provider,
       c.collcollate AS collate,
       c.collctype AS ctype,
       {locale} AS locale,
       {rules} AS icu_rules,
       c.collisdeterministic AS deterministic,
       {owner("c.collowner")} AS owner,
       {comment("pg_collation", "c.oid")} AS comment
FROM pg_catalog.pg_collation c
JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace
WHERE {user_schema("n")} AND {not_extension_member("pg_collation", "c.oid")}
"""


COLLATIONS = Kind("collation", _collations)

DEFAULT_PRIVILEGES = Kind(
    "default privileges",
    fixed(
        f"""
SELECT {owner("d.defaclrole")} || ' in ' || COALESCE('schema ' || n.nspname, 'all schemas')
       || ' on ' || CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences'
                     WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas'
                     WHEN 'L' THEN 'large objects' ELSE d.defaclobjtype::text END AS name,
       {privileges("d.defaclacl", None, "d.defaclrole")} AS privileges
FROM pg_catalog.pg_default_acl d
LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
"""
    ),
)
