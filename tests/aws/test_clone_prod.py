"""`inv db.clone-prod` end to end against moto, the fake SSM endpoint and the fake plugin."""

from __future__ import annotations

import subprocess

from prodclone.local.server import LocalServer
from prodclone.pg.tools import find_tool
from tests.aws.conftest import Cloud, plugin_processes
from tests.conftest import Project


def _table_digest(pg: LocalServer, dbname: str) -> dict[str, str]:
    """An order-independent fingerprint of each table's rows."""
    digests: dict[str, str] = {}
    with pg.connect(dbname) as conn:
        for table in ("customers", "orders"):
            row = conn.execute(
                f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t"
            ).fetchone()
            assert row is not None
            digests[table] = str(row[0])
    return digests


def test_clone_prod_dumps_prod_and_leaves_nothing_behind(
    clone_project: Project, cloud: Cloud, pg: LocalServer, fresh_db: str, prod_db: str
) -> None:
    subprocess.run(["git", "init", "-q", str(clone_project.root)], check=True)
    result = clone_project.run("db.clone-prod", "--yes", env=cloud.env)
    assert result.returncode == 0, result.stderr
    # Dumps hold personal data: the folder is git-ignored, and the run says it did that.
    assert "added /dump/ to .gitignore" in result.stdout
    assert "/dump/" in (clone_project.root / ".gitignore").read_text().splitlines()
    dumps = sorted((clone_project.root / "dump").glob("prod-*.dump"))
    assert len(dumps) == 1
    assert not list((clone_project.root / "dump").glob("*.partial"))
    assert dumps[0].stat().st_mode & 0o777 == 0o600
    assert (clone_project.root / "dump").stat().st_mode & 0o777 == 0o700
    restore = subprocess.run(
        [
            str(find_tool("pg_restore", 18, pg.extra_bin_dirs)),
            "--no-owner",
            "--dbname",
            pg.url(fresh_db),
            str(dumps[0]),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert restore.returncode == 0, restore.stderr
    assert _table_digest(pg, fresh_db) == _table_digest(pg, prod_db)
    assert cloud.instances() == []
    assert cloud.snapshots() == []
    assert plugin_processes(cloud) == []
    assert cloud.ssm.open_sessions == []
    assert len(cloud.ssm.started) == 1


def test_jobs_make_a_directory_dump_at_out(
    clone_project: Project, cloud: Cloud, pg: LocalServer, fresh_db: str, prod_db: str
) -> None:
    out = clone_project.root / "elsewhere" / "prod-manual.dump"
    out.parent.mkdir()
    result = clone_project.run(
        "db.clone-prod", "--yes", "--jobs", "2", "--out", str(out), env=cloud.env
    )
    assert result.returncode == 0, result.stderr
    assert out.is_dir() and (out / "toc.dat").exists()
    assert out.stat().st_mode & 0o777 == 0o700
    assert {p.stat().st_mode & 0o777 for p in out.iterdir()} == {0o600}
    assert not (clone_project.root / "dump").exists()
    pg_restore = find_tool("pg_restore", 18, pg.extra_bin_dirs)
    restore = subprocess.run(
        [str(pg_restore.path), "--no-owner", "--jobs", "2", "--dbname", pg.url(fresh_db), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert restore.returncode == 0, restore.stderr
    assert _table_digest(pg, fresh_db) == _table_digest(pg, prod_db)
    assert cloud.instances() == [] and cloud.snapshots() == []
