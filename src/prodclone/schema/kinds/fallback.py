"""Every user object of a kind the model does not cover, listed by identity.

Their definitions are not read attribute by attribute; the `pg_dump -s`
cross-check compares them as text. Objects an extension owns, and parts
created along with another object (a range type's multirange cast), are left
out.
"""

from __future__ import annotations

from prodclone.schema.kinds.base import Kind, fixed

# Objects created by initdb have OIDs below this; user objects at or above it.
FIRST_NORMAL_OID = 16384

_CATALOGS = (
    ("pg_operator", ""),
    ("pg_opclass", ""),
    ("pg_opfamily", ""),
    ("pg_cast", ""),
    ("pg_conversion", ""),
    ("pg_ts_config", ""),
    ("pg_ts_dict", ""),
    ("pg_ts_parser", ""),
    ("pg_ts_template", ""),
    ("pg_foreign_data_wrapper", ""),
    ("pg_foreign_server", ""),
    ("pg_user_mapping", ""),
    # A shared catalog: only this database's subscriptions.
    (
        "pg_subscription",
        " AND subdbid = (SELECT oid FROM pg_catalog.pg_database"
        " WHERE datname = pg_catalog.current_database())",
    ),
    ("pg_statistic_ext", ""),
    ("pg_transform", ""),
    ("pg_language", ""),
    ("pg_am", ""),
    # Base and pseudo types; array types come with their element type.
    ("pg_type", " AND typtype IN ('b', 'p') AND typcategory <> 'A'"),
)


def _objects() -> str:
    union = "\n  UNION ALL ".join(
        f"SELECT 'pg_catalog.{catalog}'::pg_catalog.regclass AS classid, oid AS objid "
        f"FROM pg_catalog.{catalog} WHERE oid >= {FIRST_NORMAL_OID}{extra}"
        for catalog, extra in _CATALOGS
    )
    return f"""
SELECT ident.identity || ' (' || ident.type || ')' AS name, ident.type AS object_type
FROM ({union}) o
CROSS JOIN LATERAL pg_catalog.pg_identify_object(o.classid, o.objid, 0) ident
WHERE (ident.schema IS NULL OR (ident.schema NOT IN ('pg_catalog', 'information_schema')
                                AND ident.schema NOT LIKE 'pg\\_temp\\_%'))
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend dep
                   WHERE dep.classid = o.classid AND dep.objid = o.objid
                     AND dep.deptype IN ('e', 'i'))
"""


OTHER_OBJECTS = Kind("not modelled", fixed(_objects()))
