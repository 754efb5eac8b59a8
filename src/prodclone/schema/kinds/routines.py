"""Functions, procedures, aggregates, triggers and event triggers."""

from __future__ import annotations

from prodclone.schema.kinds.base import Kind, fixed
from prodclone.schema.kinds.sqlparts import (
    RELATION_NAME,
    USER_RELATION,
    comment,
    enabled_state,
    ident,
    join_relation,
    not_extension_member,
    owner,
    owner_comment_privileges,
    qualified,
    user_schema,
)

_PROC_COMMON = """
       pg_catalog.pg_get_function_arguments(p.oid) AS arguments,
       pg_catalog.pg_get_function_result(p.oid) AS result,""" + owner_comment_privileges(
    "pg_proc", "p.oid", "p.proowner", "p.proacl", "f"
)

_PROC_FROM = """
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"""

_PROC_WHERE = f"{user_schema('n')} AND {not_extension_member('pg_proc', 'p.oid')}"


def _functions(version: int) -> str:
    # SQL-standard bodies (BEGIN ATOMIC ...) live parsed, in prosqlbody.
    body = (
        "CASE WHEN p.prosqlbody IS NOT NULL THEN pg_catalog.pg_get_function_sqlbody(p.oid) "
        "ELSE p.prosrc END"
        if version >= 140000
        else "p.prosrc"
    )
    return f"""
SELECT p.oid::pg_catalog.regprocedure::text AS name,
       CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'w' THEN 'window function'
            ELSE 'function' END AS kind,{_PROC_COMMON},
       l.lanname AS language,
       {body} AS body,
       NULLIF(p.probin, '-') AS object_file,
       CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable'
            ELSE 'volatile' END AS volatility,
       p.proisstrict AS strict,
       p.prosecdef AS security_definer,
       p.proleakproof AS leakproof,
       CASE p.proparallel WHEN 's' THEN 'safe' WHEN 'r' THEN 'restricted'
            ELSE 'unsafe' END AS parallel,
       p.procost AS cost,
       p.prorows AS rows,
       NULLIF(p.prosupport::text, '-') AS support,
       (SELECT pg_catalog.array_agg(s ORDER BY s) FROM pg_catalog.unnest(p.proconfig) s)
         AS settings
{_PROC_FROM}
JOIN pg_catalog.pg_language l ON l.oid = p.prolang
WHERE p.prokind IN ('f', 'p', 'w') AND {_PROC_WHERE}
"""


FUNCTIONS = Kind("function", _functions)

AGGREGATES = Kind(
    "aggregate",
    fixed(
        f"""
SELECT p.oid::pg_catalog.regprocedure::text AS name,{_PROC_COMMON},
       CASE g.aggkind WHEN 'n' THEN 'normal' WHEN 'o' THEN 'ordered-set'
            ELSE 'hypothetical-set' END AS aggregate_kind,
       g.aggtransfn::text AS state_function,
       pg_catalog.format_type(g.aggtranstype, NULL) AS state_type,
       NULLIF(g.aggfinalfn::text, '-') AS final_function,
       NULLIF(g.aggcombinefn::text, '-') AS combine_function,
       NULLIF(g.aggserialfn::text, '-') AS serial_function,
       NULLIF(g.aggdeserialfn::text, '-') AS deserial_function,
       NULLIF(g.aggmtransfn::text, '-') AS moving_state_function,
       g.agginitval AS initial_condition,
       NULLIF(g.aggsortop, 0)::pg_catalog.regoperator::text AS sort_operator,
       CASE p.proparallel WHEN 's' THEN 'safe' WHEN 'r' THEN 'restricted'
            ELSE 'unsafe' END AS parallel
{_PROC_FROM}
JOIN pg_catalog.pg_aggregate g ON g.aggfnoid = p.oid
WHERE p.prokind = 'a' AND {_PROC_WHERE}
"""
    ),
)

TRIGGERS = Kind(
    "trigger",
    # Clones on partitions follow their parent's trigger, as pg_dump treats them;
    # only a clone enabled differently from its parent is listed, with the parent.
    fixed(
        f"""
SELECT {RELATION_NAME} || '.' || {ident("tg.tgname")} AS name,
       {RELATION_NAME} AS _parent,
       pg_catalog.pg_get_triggerdef(tg.oid) AS definition,
       {enabled_state("tg.tgenabled")} AS enabled,
       (SELECT pg_catalog.array_agg({qualified("pn.nspname", "pc.relname")} || ': '
                                    || {enabled_state("ct.tgenabled")} ORDER BY 1)
          FROM pg_catalog.pg_trigger ct
          JOIN pg_catalog.pg_class pc ON pc.oid = ct.tgrelid
          JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE ct.tgparentid = tg.oid AND ct.tgenabled <> tg.tgenabled) AS partitions_enabled,
       {comment("pg_trigger", "tg.oid")} AS comment
FROM pg_catalog.pg_trigger tg{join_relation("tg.tgrelid")}
WHERE NOT tg.tgisinternal AND tg.tgparentid = 0 AND {USER_RELATION}
"""
    ),
)

EVENT_TRIGGERS = Kind(
    "event trigger",
    fixed(
        f"""
SELECT {ident("e.evtname")} AS name,
       e.evtevent AS event,
       (SELECT pg_catalog.array_agg(tag ORDER BY tag) FROM pg_catalog.unnest(e.evttags) tag)
         AS tags,
       e.evtfoid::pg_catalog.regproc::text AS function,
       {enabled_state("e.evtenabled")} AS enabled,
       {owner("e.evtowner")} AS owner,
       {comment("pg_event_trigger", "e.oid")} AS comment
FROM pg_catalog.pg_event_trigger e
WHERE {not_extension_member("pg_event_trigger", "e.oid")}
"""
    ),
)
