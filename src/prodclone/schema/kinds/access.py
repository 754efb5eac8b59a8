"""Row-level security policies, rewrite rules and publications."""

from __future__ import annotations

from prodclone.schema.kinds.base import Kind, fixed
from prodclone.schema.kinds.sqlparts import (
    comment,
    not_extension_member,
    owner,
    user_schema,
)

_TABLE_FROM = """
JOIN pg_catalog.pg_class c ON c.oid = {relid}
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"""

_TABLE_WHERE = f"{user_schema('n')} AND {not_extension_member('pg_class', 'c.oid')}"

POLICIES = Kind(
    "policy",
    "policies",
    fixed(
        f"""
SELECT n.nspname || '.' || c.relname || '.' || p.polname AS name,
       n.nspname || '.' || c.relname AS _parent,
       CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update'
            WHEN 'd' THEN 'delete' ELSE 'all' END AS command,
       p.polpermissive AS permissive,
       (SELECT pg_catalog.array_agg(CASE WHEN r = 0 THEN 'PUBLIC'
                                         ELSE pg_catalog.pg_get_userbyid(r) END ORDER BY 1)
          FROM pg_catalog.unnest(p.polroles) r) AS roles,
       pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using,
       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS with_check,
       {comment("pg_policy", "p.oid")} AS comment
FROM pg_catalog.pg_policy p{_TABLE_FROM.format(relid="p.polrelid")}
WHERE {_TABLE_WHERE}
"""
    ),
)

RULES = Kind(
    "rule",
    "rules",
    # `_RETURN` is how a view is stored; views are compared by their definition.
    fixed(
        f"""
SELECT n.nspname || '.' || c.relname || '.' || r.rulename AS name,
       n.nspname || '.' || c.relname AS _parent,
       pg_catalog.pg_get_ruledef(r.oid) AS definition,
       CASE r.ev_enabled WHEN 'O' THEN 'enabled' WHEN 'D' THEN 'disabled'
            WHEN 'R' THEN 'replica only' WHEN 'A' THEN 'always' END AS enabled,
       {comment("pg_rewrite", "r.oid")} AS comment
FROM pg_catalog.pg_rewrite r{_TABLE_FROM.format(relid="r.ev_class")}
WHERE r.rulename <> '_RETURN' AND {_TABLE_WHERE}
"""
    ),
)


def _publications(version: int) -> str:
    row_filter = (
        "COALESCE(' WHERE ' || pg_catalog.pg_get_expr(pr.prqual, pr.prrelid), '')"
        if version >= 150000
        else "''"
    )
    schemas = (
        """(SELECT pg_catalog.array_agg(sn.nspname ORDER BY sn.nspname)
          FROM pg_catalog.pg_publication_namespace ps
          JOIN pg_catalog.pg_namespace sn ON sn.oid = ps.pnnspid WHERE ps.pnpubid = p.oid)"""
        if version >= 150000
        else "NULL::text[]"
    )
    return f"""
SELECT p.pubname AS name,
       p.puballtables AS all_tables,
       pg_catalog.concat_ws(',', CASE WHEN p.pubinsert THEN 'insert' END,
                            CASE WHEN p.pubupdate THEN 'update' END,
                            CASE WHEN p.pubdelete THEN 'delete' END,
                            CASE WHEN p.pubtruncate THEN 'truncate' END) AS operations,
       p.pubviaroot AS via_root,
       (SELECT pg_catalog.array_agg(tn.nspname || '.' || tc.relname || {row_filter} ORDER BY 1)
          FROM pg_catalog.pg_publication_rel pr
          JOIN pg_catalog.pg_class tc ON tc.oid = pr.prrelid
          JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
         WHERE pr.prpubid = p.oid) AS tables,
       {schemas} AS schemas,
       {owner("p.pubowner")} AS owner,
       {comment("pg_publication", "p.oid")} AS comment
FROM pg_catalog.pg_publication p
"""


PUBLICATIONS = Kind("publication", "publications", _publications)
