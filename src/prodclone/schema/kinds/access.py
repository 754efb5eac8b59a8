"""Row-level security policies, rewrite rules and publications."""

from __future__ import annotations

from prodclone.schema.kinds.base import Kind, fixed
from prodclone.schema.kinds.sqlparts import (
    RELATION_NAME,
    USER_RELATION,
    comment,
    enabled_state,
    ident,
    join_relation,
    owner,
    qualified,
)

POLICIES = Kind(
    "policy",
    fixed(
        f"""
SELECT {RELATION_NAME} || '.' || {ident("p.polname")} AS name,
       {RELATION_NAME} AS _parent,
       CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update'
            WHEN 'd' THEN 'delete' ELSE 'all' END AS command,
       p.polpermissive AS permissive,
       (SELECT pg_catalog.array_agg(CASE WHEN r = 0 THEN 'PUBLIC'
                                         ELSE pg_catalog.pg_get_userbyid(r) END ORDER BY 1)
          FROM pg_catalog.unnest(p.polroles) r) AS roles,
       pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using,
       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS with_check,
       {comment("pg_policy", "p.oid")} AS comment
FROM pg_catalog.pg_policy p{join_relation("p.polrelid")}
WHERE {USER_RELATION}
"""
    ),
)

RULES = Kind(
    "rule",
    # `_RETURN` is how a view is stored; views are compared by their definition.
    fixed(
        f"""
SELECT {RELATION_NAME} || '.' || {ident("r.rulename")} AS name,
       {RELATION_NAME} AS _parent,
       pg_catalog.pg_get_ruledef(r.oid) AS definition,
       {enabled_state("r.ev_enabled")} AS enabled,
       {comment("pg_rewrite", "r.oid")} AS comment
FROM pg_catalog.pg_rewrite r{join_relation("r.ev_class")}
WHERE r.rulename <> '_RETURN' AND {USER_RELATION}
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
SELECT {ident("p.pubname")} AS name,
       p.puballtables AS all_tables,
       pg_catalog.concat_ws(',', CASE WHEN p.pubinsert THEN 'insert' END,
                            CASE WHEN p.pubupdate THEN 'update' END,
                            CASE WHEN p.pubdelete THEN 'delete' END,
                            CASE WHEN p.pubtruncate THEN 'truncate' END) AS operations,
       p.pubviaroot AS via_root,
       (SELECT pg_catalog.array_agg({qualified("tn.nspname", "tc.relname")} || {row_filter}
                                 ORDER BY 1)
          FROM pg_catalog.pg_publication_rel pr
          JOIN pg_catalog.pg_class tc ON tc.oid = pr.prrelid
          JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
         WHERE pr.prpubid = p.oid) AS tables,
       {schemas} AS schemas,
       {owner("p.pubowner")} AS owner,
       {comment("pg_publication", "p.oid")} AS comment
FROM pg_catalog.pg_publication p
"""


PUBLICATIONS = Kind("publication", _publications)
