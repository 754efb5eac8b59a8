"""A LATIN1 production database with non-ASCII names loads, and compares equal to its clone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest

from prodclone.local.embedded import bin_dir
from prodclone.local.server import LocalServer
from tests.conftest import Project
from tests.scratch import ScratchDatabases

TABLE = "café_ñandú"
ROWS = ["crème brûlée", "Ærøskøbing", "señor"]


@pytest.fixture
def latin1_db(scratch_db: ScratchDatabases) -> str:
    name = scratch_db.create(
        "latin1", template="template0", options="ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'"
    )
    with psycopg.connect(scratch_db.pg.url(name), autocommit=True) as conn:
        conn.execute(
            f'CREATE TABLE "{TABLE}" (id int PRIMARY KEY, "libellé" text NOT NULL);'
            f'CREATE INDEX "{TABLE}_libellé" ON "{TABLE}" ("libellé");'
            f"COMMENT ON TABLE \"{TABLE}\" IS 'données à l''été';"
        )
        with conn.cursor() as cur:
            cur.executemany(
                f'INSERT INTO "{TABLE}" VALUES (%s, %s)', list(enumerate(ROWS, start=1))
            )
    return name


def test_a_latin1_dump_loads_and_its_schema_compares_equal(
    project: Project, pg: LocalServer, latin1_db: str, tmp_path: Path
) -> None:
    dump = tmp_path / "prod-20240101T000000Z.dump"
    pg_dump = bin_dir() / "pg_dump"
    subprocess.run([str(pg_dump), "-Fc", "-f", str(dump), pg.url(latin1_db)], check=True)
    project.configure({"app": "latin", "local": {"keep_spare": False}})
    loaded = project.run("db.load-clone", "--dump", str(dump))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "Traceback" not in loaded.stderr
    with psycopg.connect(pg.url("latin_prod_clone")) as conn:
        rows = conn.execute(f'SELECT "libellé" FROM "{TABLE}" ORDER BY id').fetchall()
    assert [row[0] for row in rows] == ROWS
    diff = project.run("db.schema-diff", "-a", latin1_db, "-b", "latin_prod_clone")
    assert diff.returncode == 0, diff.stdout + diff.stderr
    assert diff.stdout.splitlines()[-1].startswith("schema-diff: no differences"), diff.stdout
    assert project.run("db.drop-clone", "--yes").returncode == 0


MIGRATE_SQL = f"""
CREATE TABLE IF NOT EXISTS "{TABLE}" (id int PRIMARY KEY, "libellé" text NOT NULL);
CREATE INDEX IF NOT EXISTS "{TABLE}_libellé" ON "{TABLE}" ("libellé");
COMMENT ON TABLE "{TABLE}" IS 'données à l''été';
ALTER TABLE "{TABLE}" ADD COLUMN IF NOT EXISTS "créé" timestamptz;
"""


def test_refactor_check_passes_on_a_latin1_dump(
    project: Project, pg: LocalServer, latin1_db: str, tmp_path: Path
) -> None:
    dump = tmp_path / "prod-20240101T000000Z.dump"
    subprocess.run(
        [str(bin_dir() / "pg_dump"), "-Fc", "-f", str(dump), pg.url(latin1_db)], check=True
    )
    (project.root / "migrate.sql").write_text(MIGRATE_SQL, encoding="utf-8")
    project.configure(
        {
            "app": "latinchk",
            "local": {"keep_spare": False},
            "commands": {"migrate": "psql -X -q -v ON_ERROR_STOP=1 -f migrate.sql"},
        }
    )
    done = project.run("refactor-check", "--dump", str(dump), "--skip-smoke")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "schema-diff: no differences" in done.stdout, done.stdout
    assert project.run("db.drop-clone", "--yes").returncode == 0
