"""Roles a dump references: read from its schema script's syntax tree, created NOLOGIN.

Owners and grants name prod's roles; without them the restore fails on
`ALTER ... OWNER TO` and `GRANT`, and ownership and privileges are lost.

The script is parsed by PostgreSQL's own grammar (pglast), and only the role
positions of its statements are read: OWNER TO, GRANT/REVOKE grantees and
grantors, ALTER DEFAULT PRIVILEGES FOR ROLE, CREATE POLICY ... TO and CREATE
SCHEMA ... AUTHORIZATION. A string, a comment or a function body that happens
to read like `TO someone` is never taken for a role.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import psycopg
from pglast import ast, parser
from pglast.enums import RoleSpecType
from pglast.visitors import Visitor
from psycopg import sql

from prodclone.pg.tools import ClientTool

# Only candidates: the SQL scanner decides which of them are psql commands.
_BACKSLASH_LINE = re.compile(r"^\\.*$", re.MULTILINE)
_COMMENTS = frozenset({"SQL_COMMENT", "C_COMMENT"})


class _RoleNames(Visitor):
    """Every role a statement names by name (not PUBLIC, CURRENT_USER and the like)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: set[str] = set()

    def visit_RoleSpec(self, ancestors: Any, node: ast.RoleSpec) -> None:
        if node.roletype == RoleSpecType.ROLESPEC_CSTRING and node.rolename:
            self.found.add(node.rolename)


def without_meta_commands(script: str) -> str:
    """The script without psql's backslash commands (`\\restrict KEY`, ...).

    pg_restore writes them on lines of their own between statements. A line
    that starts with a backslash is taken for one only where the SQL scanner
    finds all text before it to be whole statements, so such a line inside a
    string or a function body stays.
    """
    kept: list[str] = []
    start = 0  # where the text not yet kept begins: always between statements
    for line in _BACKSLASH_LINE.finditer(script):
        if line.start() >= start and _between_statements(script[start : line.start()]):
            kept.append(script[start : line.start()])
            start = line.end()
    kept.append(script[start:])
    return "".join(kept)


def _between_statements(text: str) -> bool:
    try:
        tokens = [t for t in parser.scan(text) if t.name not in _COMMENTS]
    except parser.ParseError:  # an unterminated string, comment or dollar quote
        return False
    return not tokens or tokens[-1].name == "ASCII_59"  # ";"


def roles_in_script(script: str) -> tuple[set[str], int]:
    """The role names a restore script refers to, and how many statements could not be read."""
    clean = without_meta_commands(script)
    visitor = _RoleNames()
    try:
        visitor(parser.parse_sql(clean))
        return visitor.found, 0
    except parser.ParseError:
        pass
    # One statement in a syntax this grammar does not know must not hide the others' roles.
    unreadable = 0
    try:
        statements = parser.split(clean, with_parser=False)
    except parser.ParseError:
        return set(), 1
    for statement in statements:
        try:
            visitor(parser.parse_sql(statement))
        except parser.ParseError:
            unreadable += 1
    return visitor.found, unreadable


def roles_in_dump(dump: Path, pg_restore: ClientTool) -> set[str]:
    script = pg_restore.output(
        "--schema-only", "-f", "-", str(dump), failure=f"cannot read the schema of {dump}"
    )
    found, unreadable = roles_in_script(script)
    if unreadable:
        print(
            f"prodclone: warning: {unreadable} statement(s) of {dump.name} could not be parsed "
            f"(PostgreSQL {parser.get_postgresql_version()[0]} grammar); a role only they name "
            "is not created, and the restore reports it",
            file=sys.stderr,
        )
    return found


def create_missing_roles(conn: psycopg.Connection, wanted: set[str]) -> list[str]:
    """Create each role the server lacks, NOLOGIN; returns the ones created."""
    existing = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles").fetchall()}
    created = []
    for name in sorted(wanted - existing):
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
        created.append(name)
    return created


def drop_roles(conn: psycopg.Connection, created: list[str]) -> list[str]:
    """Drop roles `create_missing_roles` made for a restore that then failed.

    Only roles nothing uses go: one that something came to own or be granted
    meanwhile stays (DROP ROLE refuses it), rather than taking that with it.
    """
    dropped = []
    for name in created:
        try:
            with conn.transaction():
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
        except psycopg.errors.DependentObjectsStillExist:
            continue
        dropped.append(name)
    return dropped
