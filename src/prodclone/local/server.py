"""The local server the loop works on: the embedded one, or `prodclone.local.url`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from prodclone.errors import ProdcloneError
from prodclone.local.embedded import EmbeddedServer, bin_dir
from prodclone.pg import conninfo


class ServerChoice(Protocol):
    """What picks the local server: `url` (empty: the embedded one, its data in
    `data_dir`), whether a remote host is allowed, and the user's client tools."""

    @property
    def url(self) -> str: ...

    @property
    def data_dir(self) -> Path: ...

    @property
    def allow_remote(self) -> bool: ...

    @property
    def bin_dir(self) -> Path | None: ...


@dataclass(frozen=True)
class LocalServer:
    """How to reach the local server; `base_url` names its maintenance database.

    `bin_dir` is the folder of client tools the user named (`prodclone.local.bin_dir`);
    `extra_bin_dirs` are searched first for tools and put first on an app command's PATH.
    """

    base_url: str
    embedded: bool
    extra_bin_dirs: tuple[Path, ...] = ()
    bin_dir: Path | None = None

    def url(self, dbname: str) -> str:
        return conninfo.url_for(self.base_url, dbname)

    def masked(self, dbname: str | None = None) -> str:
        return conninfo.mask(self.url(dbname) if dbname else self.base_url)

    def connect(self, dbname: str | None = None, autocommit: bool = True) -> psycopg.Connection:
        url = self.url(dbname) if dbname else self.base_url
        try:
            return psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
        except psycopg.OperationalError as exc:
            # The first line names the failure; libpq's hint ("Is the server running...") follows.
            reason = (str(exc).strip().splitlines() or ["no answer"])[0]
            # An external server is the user's setting: say which key to fix.
            key = "" if self.embedded else " (prodclone.local.url, INVOKE_PRODCLONE_LOCAL_URL)"
            raise ProdcloneError(
                f"cannot connect to the local server {conninfo.mask(url)}{key}: {reason}"
            ) from None

    def major_version(self) -> int:
        with self.connect() as conn:
            return int(conn.info.server_version) // 10000

    def libpq_env(self, dbname: str) -> dict[str, str]:
        """PG* variables for a client tool or app command aimed at `dbname`.

        The password travels here (the environment), never on a command line.
        """
        params = conninfo_to_dict(self.url(dbname))
        env = {"PGDATABASE": dbname}
        for key, var in (
            ("host", "PGHOST"),
            ("port", "PGPORT"),
            ("user", "PGUSER"),
            ("password", "PGPASSWORD"),
            ("sslmode", "PGSSLMODE"),
            # A URL's `service=`: the tools must reach the server the host check passed.
            ("service", "PGSERVICE"),
        ):
            if params.get(key):
                env[var] = str(params[key])
        return env


@dataclass(frozen=True)
class EmbeddedChoice:
    """The embedded server whose data is in `data_dir`, whatever `local.url` says."""

    data_dir: Path
    bin_dir: Path | None = None
    url: str = ""
    allow_remote: bool = False


def resolve_server(local: ServerChoice, start: bool = True) -> LocalServer:
    """The configured server; the embedded one is started when `start` is true."""
    if local.url:
        # A service definition may name the host too: the packaged tools' libpq reads
        # pg_service.conf from its own etc/ folder.
        for host in conninfo.hosts(local.url, sysconf_dirs=(bin_dir().parent / "etc",)):
            if not conninfo.is_local_host(host) and not local.allow_remote:
                raise ProdcloneError(
                    f"prodclone.local.url points at {host!r}, which is not this machine; "
                    "this tool drops and recreates databases there. Set "
                    "prodclone.local.allow_remote: true (INVOKE_PRODCLONE_LOCAL_ALLOW_REMOTE=1) "
                    "if that is really meant"
                )
        base = local.url
        if not urlsplit(base).path.strip("/"):
            base = conninfo.url_for(base, "postgres")
        return LocalServer(
            base_url=base, embedded=False, extra_bin_dirs=_tool_dirs(local), bin_dir=local.bin_dir
        )
    server = EmbeddedServer(local.data_dir)
    status = server.ensure_running() if start else server.status()
    if not status.running:
        raise ProdcloneError("the embedded server is not running; any db task starts it")
    return LocalServer(
        base_url=status.url("postgres"),
        embedded=True,
        extra_bin_dirs=_tool_dirs(local),
        bin_dir=local.bin_dir,
    )


def _tool_dirs(local: ServerChoice) -> tuple[Path, ...]:
    """The user's folder of client tools first, then the packaged ones."""
    named = (local.bin_dir,) if local.bin_dir is not None else ()
    return (*named, bin_dir())


def app_env(server: LocalServer, dbname: str, db_env: dict[str, str]) -> dict[str, str]:
    """The environment for an app command (migrate, boot, serve, smoke) aimed at `dbname`."""
    env = dict(os.environ)
    env.update(server.libpq_env(dbname))
    if server.extra_bin_dirs:
        # The embedded package's psql and friends, for commands that shell out to them.
        dirs = [str(path) for path in server.extra_bin_dirs]
        env["PATH"] = os.pathsep.join([*dirs, env.get("PATH", "")])
    env["DATABASE_URL"] = server.url(dbname)
    for name, template in db_env.items():
        env[name] = template.replace("{db}", dbname).replace("{url}", server.url(dbname))
    return env
