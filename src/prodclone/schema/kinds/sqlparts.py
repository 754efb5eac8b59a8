"""SQL fragments every per-kind query shares: what counts as a user object, privileges."""

from __future__ import annotations

# Schemas that belong to the server, not to the application.
USER_SCHEMA = (
    "{ns}.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND {ns}.nspname NOT LIKE 'pg\\_toast%' AND {ns}.nspname NOT LIKE 'pg\\_temp\\_%'"
)


def user_schema(alias: str) -> str:
    return USER_SCHEMA.format(ns=alias)


def not_extension_member(catalog: str, oid: str) -> str:
    """Objects an extension created are the extension's; they are not compared one by one."""
    return (
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend dep "
        f"WHERE dep.classid = 'pg_catalog.{catalog}'::pg_catalog.regclass "
        f"AND dep.objid = {oid} AND dep.deptype = 'e')"
    )


def comment(catalog: str, oid: str, subid: str = "0") -> str:
    return (
        "(SELECT dsc.description FROM pg_catalog.pg_description dsc "
        f"WHERE dsc.objoid = {oid} AND dsc.classoid = 'pg_catalog.{catalog}'::pg_catalog.regclass "
        f"AND dsc.objsubid = {subid})"
    )


def privileges(acl: str, default_kind: str | None, owner: str) -> str:
    """The ACL expanded against the defaults, one `grantee:privilege` per item, grantor dropped.

    Grants to the owner read `(owner)`: owners differ between a restored clone
    and a freshly built database, and are compared (or not) on their own.
    """
    source = f"pg_catalog.acldefault('{default_kind}', {owner})" if default_kind else "NULL"
    item = (
        "CASE WHEN acl.grantee = 0 THEN 'PUBLIC' "
        f"WHEN acl.grantee = {owner} THEN '(owner)' "
        "ELSE pg_catalog.pg_get_userbyid(acl.grantee) END "
        "|| ':' || acl.privilege_type "
        "|| CASE WHEN acl.is_grantable THEN ' with grant option' ELSE '' END"
    )
    return (
        f"(SELECT pg_catalog.array_agg({item} ORDER BY {item}) "
        f"FROM pg_catalog.aclexplode(COALESCE({acl}, {source})) acl)"
    )


def owner(owner_oid: str) -> str:
    return f"pg_catalog.pg_get_userbyid({owner_oid})"


def owner_comment_privileges(
    catalog: str, oid: str, owner_oid: str, acl: str, default_kind: str
) -> str:
    """The `owner`, `comment` and `privileges` columns every owned object has."""
    return f"""
       {owner(owner_oid)} AS owner,
       {comment(catalog, oid)} AS comment,
       {privileges(acl, default_kind, owner_oid)} AS privileges"""


def ident(name: str) -> str:
    """A name as SQL writes it: quoted only where it must be (`"Order"`, `"a.b"`)."""
    return f"pg_catalog.quote_ident({name})"


def qualified(*parts: str) -> str:
    """Identity text `schema.name` (or `schema.table.name`), each part quoted where needed.

    Quoted, so that `a."b.c"` and `"a.b".c` stay two objects; plain names read as before.
    """
    return " || '.' || ".join(ident(part) for part in parts)


# A relation `c` in schema `n`: joined from any catalog that points at it, kept
# when it is a user object, and named `schema.relation`.
RELATION_NAME = qualified("n.nspname", "c.relname")
USER_RELATION = f"{user_schema('n')} AND {not_extension_member('pg_class', 'c.oid')}"


def join_relation(relid: str) -> str:
    return f"""
JOIN pg_catalog.pg_class c ON c.oid = {relid}
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"""


def enabled_state(column: str) -> str:
    """Triggers' and rules' `O`/`D`/`R`/`A` firing state, in words."""
    return (
        f"CASE {column} WHEN 'O' THEN 'enabled' WHEN 'D' THEN 'disabled' "
        "WHEN 'R' THEN 'replica only' WHEN 'A' THEN 'always' END"
    )
