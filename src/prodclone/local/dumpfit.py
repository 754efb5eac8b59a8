"""Whether a dump can be restored into the local server, decided before anything is touched.

Picks the pg_restore for the job (the server's own major where one exists)
and refuses, in one line, a dump from a newer server, a pg_restore that
cannot write to this server, and extensions the server does not have.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from prodclone.errors import ProdcloneError
from prodclone.local.server import LocalServer
from prodclone.pg import dumps
from prodclone.pg.tools import (
    TRANSACTION_TIMEOUT_SINCE,
    ClientTool,
    fits_server,
    packaged_bin_dir,
    restore_candidates,
    tool_in,
)

URL_KEY = "prodclone.local.url (INVOKE_PRODCLONE_LOCAL_URL)"
BIN_DIR_KEY = "prodclone.local.bin_dir (INVOKE_PRODCLONE_LOCAL_BIN_DIR)"
RECIPE = "docs/local-server.md"


def choose_pg_restore(
    server: LocalServer, server_major: int, dump: Path
) -> tuple[ClientTool, dumps.DumpInfo]:
    """The pg_restore to restore `dump` into the server with, and what the dump holds."""
    if server.bin_dir is not None:
        named = tool_in(server.bin_dir, "pg_restore")
        if named is None:
            raise ProdcloneError(
                f"{BIN_DIR_KEY} is {server.bin_dir}, which has no runnable pg_restore; "
                "name a folder of PostgreSQL client tools (e.g. /usr/lib/postgresql/15/bin)"
            )
        candidates = [named]
    else:
        candidates = restore_candidates(server_major, server.extra_bin_dirs)
    first_error: ProdcloneError | None = None
    unreadable: list[ClientTool] = []
    for tool in candidates:
        try:
            info = dumps.check_dump(dump, tool)
        except ProdcloneError as exc:
            first_error = first_error or exc
            unreadable.append(tool)
            continue
        check_versions(info, tool, server_major, server, unreadable)
        return tool, info
    assert first_error is not None
    raise first_error


def check_versions(
    info: dumps.DumpInfo,
    tool: ClientTool,
    server_major: int,
    server: LocalServer,
    unreadable: list[ClientTool],
) -> None:
    """Refuse a dump from a newer server, and a pg_restore that cannot write to this one."""
    name = info.path.name
    if info.source_major is not None and info.source_major > server_major:
        raise ProdcloneError(
            f"{name} was dumped from PostgreSQL {info.source_major}, newer than the local "
            f"server (PostgreSQL {server_major}); nothing was changed. Use "
            f"{_ways_out(server, info.source_major)}"
        )
    if not fits_server(tool, server_major):
        same = [t for t in unreadable if t.major == server_major]
        if same:
            reason = (
                f"it was written by pg_dump {info.pg_dump_major}, which pg_restore "
                f"{server_major} ({same[0].path}) cannot read"
            )
            fix = (
                f"Take the dump again with pg_dump {server_major}, or use "
                f"{_ways_out(server, TRANSACTION_TIMEOUT_SINCE)}"
            )
        else:
            reason = f"no pg_restore {server_major} was found"
            fix = f"Install postgresql-client-{server_major} or name its folder in {BIN_DIR_KEY}"
        raise ProdcloneError(
            f"cannot restore {name} into PostgreSQL {server_major}: {reason}, and pg_restore "
            f"{tool.major} (from {TRANSACTION_TIMEOUT_SINCE} on) sets transaction_timeout, "
            f"which PostgreSQL {server_major} lacks; nothing was changed. {fix}"
        )


def _ways_out(server: LocalServer, at_least: int) -> str:
    """The two ways out: a newer local server, or the embedded one where it is new enough."""
    ways = f"a local server of PostgreSQL {at_least} or newer ({URL_KEY})"
    packaged = _packaged_major()
    if not server.embedded and packaged is not None and packaged >= at_least:
        ways += (
            f", or the embedded PostgreSQL {packaged} (leave prodclone.local.url empty); "
            f"see {RECIPE}"
        )
    else:
        ways += f"; see {RECIPE}"
    return ways


def _packaged_major() -> int | None:
    folder = packaged_bin_dir()
    tool = tool_in(folder, "pg_restore") if folder is not None else None
    return tool.major if tool is not None else None


def check_extensions(conn: psycopg.Connection, info: dumps.DumpInfo, server: LocalServer) -> None:
    """Refuse a dump that needs extensions the server cannot create."""
    if not info.extensions:
        return
    rows = conn.execute("SELECT name FROM pg_catalog.pg_available_extensions").fetchall()
    missing = sorted(set(info.extensions) - {row[0] for row in rows})
    if not missing:
        return
    which = "the embedded server" if server.embedded else "the local server"
    noun, them = ("extension", "it") if len(missing) == 1 else ("extensions", "them")
    raise ProdcloneError(
        f"{info.path.name} needs the {noun} {', '.join(missing)}, which {which} does not "
        f"have; nothing was changed. Point {URL_KEY} at a server that has {them} (a "
        f"docker-compose recipe is in {RECIPE})"
    )
