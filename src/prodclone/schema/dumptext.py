"""The `pg_dump -s` cross-check: dump both sides, normalize, compare entry by entry.

The catalog comparison must never be weaker than a text diff of the dumps,
so any dump entry that differs while the catalog comparison found nothing
about that object is itself reported.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from prodclone.pg.conninfo import mask
from prodclone.pg.tools import ClientTool
from prodclone.schema.errors import SchemaDiffError

# A fixed key keeps the `\restrict` lines equal; they are dropped anyway.
RESTRICT_KEY = "prodcloneschemadiff"
# First releases of each branch with `pg_dump --restrict-key`.
_RESTRICT_KEY_SINCE = {13: 22, 14: 19, 15: 14, 16: 10, 17: 6}

_HEADER = re.compile(
    r"^-- (?:Data for )?Name: (?P<name>.*); Type: (?P<type>[A-Z ]+); Schema: (?P<schema>[^;]*)"
    r"(?:; Owner: .*)?$"
)
_DROPPED_PREFIXES = (
    "\\restrict",
    "\\unrestrict",
    "SET ",
    "SELECT pg_catalog.set_config('search_path'",
    "-- Dumped from database version",
    "-- Dumped by pg_dump version",
    "-- PostgreSQL database dump",
)

# Entry types whose lines are GRANT and REVOKE statements, one per line.
_GRANTS = ("ACL", "DEFAULT ACL")

EntryKey = tuple[str, str, str]


@dataclass(frozen=True)
class DumpEntry:
    type: str
    schema: str
    name: str
    text: str

    def label(self) -> str:
        where = "" if self.schema == "-" else f"{self.schema}."
        return f"{self.type} {where}{self.name}"


def supports_restrict_key(tool: ClientTool) -> bool:
    return tool.major >= 18 or tool.minor >= _RESTRICT_KEY_SINCE.get(tool.major, 10**6)


def dump_schema(tool: ClientTool, url: str, owners: bool) -> str:
    """`pg_dump -s` of the database at `url`; the password goes through the environment."""
    params = conninfo_to_dict(url)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    args = [
        str(tool.path),
        "--schema-only",
        "--no-password",
        # Both sides in one encoding, whatever each database's (a LATIN1 production, say).
        "--encoding=UTF8",
        "--dbname",
        make_conninfo("", **params),
    ]
    if not owners:
        args.append("--no-owner")
    if supports_restrict_key(tool):
        args.append(f"--restrict-key={RESTRICT_KEY}")
    done = subprocess.run(args, env=env, capture_output=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        raise SchemaDiffError(f"pg_dump -s of {mask(url)} failed: {reason}")
    return done.stdout.decode(errors="replace")


def normalized_entries(dump: str) -> dict[EntryKey, DumpEntry]:
    """The dump split at its `-- Name:` headers, minus everything that varies between runs."""
    entries: dict[EntryKey, DumpEntry] = {}
    key: EntryKey = ("PRELUDE", "-", "-")
    lines: list[str] = []

    def flush() -> None:
        # The order of GRANT lines is the order the grants were issued in: the same
        # privileges granted in another order are the same privileges.
        kept = sorted(filter(str.strip, lines), key=_revokes_first) if key[0] in _GRANTS else lines
        text = "\n".join(kept).strip()
        if text or key[0] != "PRELUDE":
            previous = entries.get(key)
            joined = f"{previous.text}\n{text}" if previous else text
            entries[key] = DumpEntry(key[0], key[1], key[2], joined)

    for line in dump.splitlines():
        header = _HEADER.match(line)
        if header:
            flush()
            key = (header["type"], header["schema"], header["name"])
            lines = []
        elif line.startswith(_DROPPED_PREFIXES) or line == "--":
            continue
        else:
            lines.append(line)
    flush()
    return entries


def _revokes_first(line: str) -> tuple[bool, str]:
    """REVOKEs (of the defaults) before GRANTs, as pg_dump prints them; each sorted, since
    pg_dump keeps the order they were issued in."""
    return (not line.startswith("REVOKE "), line)
