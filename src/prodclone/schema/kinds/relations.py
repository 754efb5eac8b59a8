"""Tables, their columns, constraints and indexes; sequences; views."""

from __future__ import annotations

from prodclone.schema.kinds.base import Kind, fixed
from prodclone.schema.kinds.sqlparts import (
    RELATION_NAME,
    USER_RELATION,
    comment,
    ident,
    owner_comment_privileges,
    privileges,
    qualified,
)

_REL_FROM = """
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"""


def _relation_common(default_kind: str) -> str:
    return owner_comment_privileges("pg_class", "c.oid", "c.relowner", "c.relacl", default_kind)


# Comments on relations and their columns, read in one scan for the joins below.
_CLASS_COMMENTS = """(SELECT dsc.objoid, dsc.objsubid, dsc.description
   FROM pg_catalog.pg_description dsc
  WHERE dsc.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass OFFSET 0)"""

_SORTED_OPTIONS = "(SELECT pg_catalog.array_agg(o ORDER BY o) FROM pg_catalog.unnest({arr}) o)"

TABLES = Kind(
    "table",
    fixed(
        f"""
SELECT {RELATION_NAME} AS name,
       CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
                      ELSE 'foreign table' END AS kind,
       CASE c.relpersistence WHEN 'u' THEN 'unlogged' ELSE 'logged' END AS persistence,
       CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END AS partition_key,
       (SELECT {qualified("pn.nspname", "pc.relname")} FROM pg_catalog.pg_inherits i
          JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent
          JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE i.inhrelid = c.oid AND c.relispartition) AS partition_of,
       pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS partition_bound,
       (SELECT pg_catalog.array_agg({qualified("pn.nspname", "pc.relname")}
                                     ORDER BY i.inhseqno)
          FROM pg_catalog.pg_inherits i
          JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent
          JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE i.inhrelid = c.oid AND NOT c.relispartition) AS inherits,
       c.relrowsecurity AS row_security,
       c.relforcerowsecurity AS force_row_security,
       CASE c.relreplident WHEN 'd' THEN 'default' WHEN 'n' THEN 'nothing' WHEN 'f' THEN 'full'
            ELSE 'index ' || COALESCE((SELECT ic.relname FROM pg_catalog.pg_index x
              JOIN pg_catalog.pg_class ic ON ic.oid = x.indexrelid
              WHERE x.indrelid = c.oid AND x.indisreplident), '?') END AS replica_identity,
       {_SORTED_OPTIONS.format(arr="c.reloptions")} AS options,
       (SELECT {_SORTED_OPTIONS.format(arr="tc.reloptions")} FROM pg_catalog.pg_class tc
         WHERE tc.oid = c.reltoastrelid) AS toast_options,
       CASE WHEN c.reloftype <> 0 THEN c.reloftype::pg_catalog.regtype::text END AS of_type,
       (SELECT am.amname FROM pg_catalog.pg_am am WHERE am.oid = c.relam) AS access_method,
       (SELECT ts.spcname FROM pg_catalog.pg_tablespace ts
         WHERE ts.oid = c.reltablespace) AS tablespace,
       (SELECT fs.srvname || COALESCE(' ' || pg_catalog.array_to_string(ft.ftoptions, ','), '')
          FROM pg_catalog.pg_foreign_table ft
          JOIN pg_catalog.pg_foreign_server fs ON fs.oid = ft.ftserver
         WHERE ft.ftrelid = c.oid) AS foreign_server,{_relation_common("r")}
{_REL_FROM}
WHERE c.relkind IN ('r', 'p', 'f') AND {USER_RELATION}
"""
    ),
)


def _columns(version: int) -> str:
    # PostgreSQL 18 records NOT NULL as a named constraint, which may be NOT VALID
    # or NO INHERIT.
    not_null_name, not_null_join = (
        (
            "nn.conname",
            """LEFT JOIN (SELECT k.conrelid, k.conkey[1] AS attnum,
                        k.conname || CASE WHEN k.convalidated THEN '' ELSE ' NOT VALID' END
                        || CASE WHEN k.connoinherit THEN ' NO INHERIT' ELSE '' END AS conname
                 FROM pg_catalog.pg_constraint k WHERE k.contype = 'n' OFFSET 0) nn
       ON nn.conrelid = a.attrelid AND nn.attnum = a.attnum""",
        )
        if version >= 180000
        else ("NULL::name", "")
    )
    stats = "a.attstattarget" if version >= 170000 else "NULLIF(a.attstattarget, -1)"
    # Joins rather than per-row subqueries: tables can have tens of thousands of columns.
    # `OFFSET 0` keeps a joined subquery one scan, hashed, instead of one index probe
    # per column (a third of the query's time on large schemas).
    return f"""
SELECT {RELATION_NAME} || '.' || {ident("a.attname")} AS name,
       {RELATION_NAME} AS _parent,
       a.attnum::int AS position,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
       CASE WHEN a.attcollation <> t.typcollation THEN
         (SELECT {qualified("cn.nspname", "co.collname")} FROM pg_catalog.pg_collation co
            JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
           WHERE co.oid = a.attcollation) END AS collation,
       a.attnotnull AS not_null,
       {not_null_name} AS not_null_constraint,
       CASE WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END
         AS default,
       CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END AS identity,
       CASE WHEN a.attgenerated <> '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid)
            || CASE a.attgenerated WHEN 's' THEN ' stored' ELSE ' virtual' END END
         AS generated,
       CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END AS storage,
       NULLIF(a.attcompression::text, '') AS compression,
       a.attoptions AS options,
       {stats} AS statistics,
       a.attislocal AS local,
       dsc.description AS comment,
       CASE WHEN a.attacl IS NOT NULL
            THEN {privileges("a.attacl", None, "c.relowner")} END AS privileges
{_REL_FROM}
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN (SELECT d.adrelid, d.adnum, d.adbin FROM pg_catalog.pg_attrdef d OFFSET 0) d
       ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN {_CLASS_COMMENTS} dsc ON dsc.objoid = a.attrelid AND dsc.objsubid = a.attnum
{not_null_join}
WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm') AND {USER_RELATION}
"""


COLUMNS = Kind("column", _columns)

# Constraints PostgreSQL derives from another (conparentid): a partition's copy of its
# parent's key or foreign key, and a foreign key's copy for each partition of the table
# it references. Their names are generated (`<name>_1`, `<name>_2` in the order the
# partitions were made), so they are known by what they are: the constraint they derive
# from (the root of the chain), the table they are on, and the table they reference.
_DERIVED_ROOTS = """WITH RECURSIVE up(oid, root) AS (
    SELECT oid, conparentid FROM pg_catalog.pg_constraint WHERE conparentid <> 0
  UNION ALL
    SELECT up.oid, p.conparentid FROM up
      JOIN pg_catalog.pg_constraint p ON p.oid = up.root WHERE p.conparentid <> 0
)"""
_CONSTRAINT_NAME = f"""CASE WHEN root.oid IS NULL
       THEN {RELATION_NAME} || '.' || {ident("k.conname")}
       ELSE {RELATION_NAME} || '.' || {ident("root.conname")} || ' (copy'
         || CASE WHEN root.conrelid <> k.conrelid
                 THEN ' of ' || root.conrelid::pg_catalog.regclass::text ELSE '' END
         || CASE WHEN k.contype = 'f' AND k.confrelid <> root.confrelid
                 THEN ' for ' || k.confrelid::pg_catalog.regclass::text ELSE '' END
         || ')' END"""

CONSTRAINTS = Kind(
    "constraint",
    fixed(
        f"""{_DERIVED_ROOTS}
SELECT {_CONSTRAINT_NAME} AS name,
       {RELATION_NAME} AS _parent,
       CASE k.contype WHEN 'c' THEN 'check' WHEN 'f' THEN 'foreign key'
            WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique' WHEN 'x' THEN 'exclusion'
            ELSE k.contype::text END AS type,
       pg_catalog.pg_get_constraintdef(k.oid) AS definition,
       k.condeferrable AS deferrable,
       k.condeferred AS initially_deferred,
       k.convalidated AS validated,
       k.conislocal AS local,
       {comment("pg_constraint", "k.oid")} AS comment
{_REL_FROM}
JOIN pg_catalog.pg_constraint k ON k.conrelid = c.oid
LEFT JOIN (SELECT up.oid, r.conname, r.conrelid, r.confrelid FROM up
             JOIN pg_catalog.pg_constraint r ON r.oid = up.root AND r.conparentid = 0) root
       ON root.oid = k.oid
WHERE k.contype IN ('c', 'f', 'p', 'u', 'x') AND {USER_RELATION}
"""
    ),
)

INDEXES = Kind(
    "index",
    fixed(
        f"""
SELECT {qualified("n.nspname", "ic.relname")} AS name,
       {RELATION_NAME} AS _parent,
       {RELATION_NAME} AS table,
       pg_catalog.pg_get_indexdef(x.indexrelid) AS definition,
       x.indisunique AS unique,
       x.indisprimary AS primary,
       pg_catalog.pg_get_expr(x.indpred, x.indrelid) AS predicate,
       x.indisvalid AS valid,
       x.indisclustered AS clustered,
       {qualified("pi.nspname", "pi.relname")} AS attached_to,
       CASE WHEN ic.reloptions IS NOT NULL
            THEN {_SORTED_OPTIONS.format(arr="ic.reloptions")} END AS options,
       ts.spcname AS tablespace,
       dsc.description AS comment
{_REL_FROM}
JOIN pg_catalog.pg_index x ON x.indrelid = c.oid
JOIN pg_catalog.pg_class ic ON ic.oid = x.indexrelid
LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = ic.reltablespace
LEFT JOIN (SELECT i.inhrelid, pn.nspname, pc.relname FROM pg_catalog.pg_inherits i
             JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent
             JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace) pi
       ON pi.inhrelid = ic.oid
LEFT JOIN {_CLASS_COMMENTS} dsc ON dsc.objoid = ic.oid AND dsc.objsubid = 0
WHERE {USER_RELATION}
"""
    ),
)

SEQUENCES = Kind(
    "sequence",
    fixed(
        f"""
SELECT {RELATION_NAME} AS name,
       pg_catalog.format_type(s.seqtypid, NULL) AS type,
       s.seqstart AS start,
       s.seqincrement AS increment,
       s.seqmin AS minimum,
       s.seqmax AS maximum,
       s.seqcache AS cache,
       s.seqcycle AS cycle,
       CASE c.relpersistence WHEN 'u' THEN 'unlogged' ELSE 'logged' END AS persistence,
       (SELECT {qualified("tn.nspname", "tc.relname", "ta.attname")}
               || CASE dep.deptype WHEN 'i' THEN ' (identity '
                    || CASE ta.attidentity WHEN 'a' THEN 'always' ELSE 'by default' END || ')'
                  ELSE '' END
          FROM pg_catalog.pg_depend dep
          JOIN pg_catalog.pg_class tc ON tc.oid = dep.refobjid
          JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
          JOIN pg_catalog.pg_attribute ta ON ta.attrelid = dep.refobjid
                                          AND ta.attnum = dep.refobjsubid
         WHERE dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND dep.objid = c.oid
           AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
           AND dep.deptype IN ('a', 'i')) AS owned_by,{_relation_common("s")}
{_REL_FROM}
JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
WHERE c.relkind = 'S' AND {USER_RELATION}
"""
    ),
)


def _views(relkind: str) -> str:
    return f"""
SELECT {RELATION_NAME} AS name,
       pg_catalog.pg_get_viewdef(c.oid) AS definition,
       {_SORTED_OPTIONS.format(arr="c.reloptions")} AS options,{_relation_common("r")}
{_REL_FROM}
WHERE c.relkind = '{relkind}' AND {USER_RELATION}
"""


VIEWS = Kind("view", fixed(_views("v")))
MATERIALIZED_VIEWS = Kind("materialized view", fixed(_views("m")))
