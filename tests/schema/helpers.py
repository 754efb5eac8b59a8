"""Build small databases from SQL and compare them in-process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prodclone.local.server import LocalServer
from prodclone.pg.tools import find_tool
from prodclone.schema import DiffOptions, DiffResult, compare_databases
from tests.scratch import ScratchDatabases


class Databases(ScratchDatabases):
    """Scratch databases named `<prefix>_<label>_...`, all dropped at the end."""

    def __init__(self, pg: LocalServer, prefix: str) -> None:
        super().__init__(pg)
        self.prefix = prefix

    def create(self, statements: str = "", label: str = "") -> str:  # type: ignore[override]
        return super().create(f"{self.prefix}_{label}", sql_text=statements)

    def load_files(self, label: str, *files: Path) -> str:
        """A new database with `files` run by psql, stopping at the first error."""
        name = self.create(label=label)
        psql = find_tool("psql", self.pg.major_version(), self.pg.extra_bin_dirs)
        env = {**self.pg.libpq_env(name), "PGOPTIONS": "-c client_min_messages=warning"}
        for path in files:
            done = subprocess.run(
                [str(psql.path), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(path)],
                env={**_base_env(), **env},
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise LoadError(f"{path.parent.name}/{path.name}: {done.stderr.strip()}")
        return name


class LoadError(Exception):
    pass


def _base_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


@contextmanager
def databases(pg: LocalServer, prefix: str) -> Iterator[Databases]:
    dbs = Databases(pg, prefix)
    try:
        yield dbs
    finally:
        dbs.drop_all()


def compare(pg: LocalServer, a: str, b: str, **options: object) -> DiffResult:
    return compare_databases(
        pg.url(a),
        pg.url(b),
        DiffOptions(extra_bin_dirs=pg.extra_bin_dirs, **options),  # type: ignore[arg-type]
        labels=(a, b),
    )


def dump_and_restore(pg: LocalServer, source: str, target: str, dump: Path) -> None:
    """`pg_dump -Fc` of `source`, `pg_restore --no-owner` into the empty `target`."""
    major = pg.major_version()
    pg_dump = find_tool("pg_dump", major, pg.extra_bin_dirs)
    env = {**os.environ, **pg.libpq_env(source)}
    subprocess.run([str(pg_dump), "-Fc", "-f", str(dump)], env=env, check=True)
    pg_restore = find_tool("pg_restore", major, pg.extra_bin_dirs)
    env = {**os.environ, **pg.libpq_env(target)}
    subprocess.run(
        [str(pg_restore), "--no-owner", "--exit-on-error", "-d", target, str(dump)],
        env=env,
        check=True,
    )


def write_prod_dump(pg: LocalServer, dbs: Databases, folder: Path, statements: str) -> Path:
    """A stand-in production built by `statements`, dumped as db.clone-prod would."""
    prod = dbs.create(statements, "prod")
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / "prod-20260101T000000Z.dump"
    pg_dump = find_tool("pg_dump", pg.major_version(), pg.extra_bin_dirs)
    subprocess.run(
        [str(pg_dump), "-Fc", "-f", str(path)],
        env={**os.environ, **pg.libpq_env(prod)},
        check=True,
    )
    return path
