"""Roles a dump references: found in its schema script, created NOLOGIN when missing.

Owners and grants name prod's roles; without them the restore fails on
`ALTER ... OWNER TO` and `GRANT`, and ownership and privileges are lost.
"""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
from psycopg import sql

from prodclone.local.tools import ClientTool

_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_IDENT_LIST = rf"{_IDENT}(?:\s*,\s*{_IDENT})*"
# Default privileges put their GRANT after `ALTER DEFAULT PRIVILEGES FOR ROLE x IN SCHEMA s`.
_DEFAULTS_PREFIX = r"(?:ALTER DEFAULT PRIVILEGES .*?)?"
_PATTERNS = (
    re.compile(rf"\bOWNER TO ({_IDENT})"),
    re.compile(rf"^{_DEFAULTS_PREFIX}GRANT .+? TO ({_IDENT_LIST})", re.MULTILINE),
    re.compile(rf"^{_DEFAULTS_PREFIX}REVOKE .+? FROM ({_IDENT_LIST})", re.MULTILINE),
    re.compile(rf"\bFOR ROLE ({_IDENT_LIST})"),
    re.compile(rf"^CREATE POLICY .+?\bTO ({_IDENT_LIST})", re.MULTILINE | re.DOTALL),
    re.compile(rf"\bAUTHORIZATION ({_IDENT})"),
)
_NOT_ROLES = {"public", "current_user", "session_user", "current_role"}


def _names(ident_list: str) -> list[str]:
    names = []
    for raw in re.findall(_IDENT, ident_list):
        if raw.startswith('"'):
            names.append(raw[1:-1].replace('""', '"'))
        elif raw.lower() not in _NOT_ROLES:
            names.append(raw.lower())
    return names


def roles_in_dump(dump: Path, pg_restore: ClientTool) -> set[str]:
    script = pg_restore.output(
        "--schema-only", "-f", "-", str(dump), failure=f"cannot read the schema of {dump}"
    )
    found: set[str] = set()
    for pattern in _PATTERNS:
        for match in pattern.finditer(script):
            found.update(_names(match.group(1)))
    return found


def create_missing_roles(conn: psycopg.Connection, wanted: set[str]) -> list[str]:
    """Create each role the server lacks, NOLOGIN; returns the ones created."""
    existing = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles").fetchall()}
    created = []
    for name in sorted(wanted - existing):
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
        created.append(name)
    return created
