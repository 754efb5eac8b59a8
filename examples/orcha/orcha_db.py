"""How every orcha command finds its database: DATABASE_URL, narrowed by the override.

prodclone hands app commands `DATABASE_URL` and the `PG*` variables; like the spec's app,
`ORCHA_LOCAL_DB_NAME_OVERRIDE` switches the database by name (no ambient mode flag).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg


def database_url() -> str:
    """The target database as a postgresql:// URL (a Unix-socket host stays in the query)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        dbname = os.environ.get("PGDATABASE", "")
        if not dbname:
            raise SystemExit(
                "orcha: set DATABASE_URL (or PGHOST/PGDATABASE) to the target database"
            )
        url = "postgresql:///" + quote(dbname, safe="")
    override = os.environ.get("ORCHA_LOCAL_DB_NAME_OVERRIDE", "")
    if override:
        url = urlsplit(url)._replace(path="/" + quote(override, safe="")).geturl()
    return url


def database_name() -> str:
    path = urlsplit(database_url()).path.lstrip("/")
    return path or os.environ.get("PGDATABASE", "")


def connect(autocommit: bool = True) -> psycopg.Connection:
    return psycopg.connect(database_url(), autocommit=autocommit, connect_timeout=10)


def extra_folders() -> list[Path]:
    """More migration folders (ORCHA_EXTRA_MIGRATIONS, `:`-separated), applied last."""
    value = os.environ.get("ORCHA_EXTRA_MIGRATIONS", "")
    return [Path(part).resolve() for part in value.split(os.pathsep) if part]
