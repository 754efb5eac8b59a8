"""The fresh build takes the clone's route (pg_dump | pg_restore), so the gate compares like
with like: expressions PostgreSQL stores differently after a restore are no drift."""

from __future__ import annotations

import json
import uuid

from prodclone.local.server import LocalServer
from tests.conftest import Project
from tests.schema.helpers import Databases, write_prod_dump

# What Django writes for a CharField with choices and a conditional index.
MIGRATION = """
CREATE TABLE IF NOT EXISTS shop_order (
    id bigint PRIMARY KEY,
    status varchar(10) NOT NULL CONSTRAINT shop_order_status_check CHECK (status IN ({choices}))
);
CREATE INDEX IF NOT EXISTS shop_order_open_idx ON shop_order (id) WHERE status IN ({choices});
"""
CHOICES = "'new', 'paid'"


def _write_migration(project: Project, choices: str) -> None:
    (project.root / "migrate.sql").write_text(MIGRATION.format(choices=choices))


def _prod_dump(pg: LocalServer, dbs: Databases, project: Project) -> None:
    """Production built by the same migration, dumped as db.clone-prod would."""
    write_prod_dump(pg, dbs, project.root / "dump", MIGRATION.format(choices=CHOICES))


def _configure(project: Project) -> str:
    app = f"rt_{uuid.uuid4().hex[:8]}"
    project.configure(
        {
            "app": app,
            "local": {"keep_spare": False},
            "commands": {"migrate": "psql -X -q -v ON_ERROR_STOP=1 -f migrate.sql"},
        }
    )
    return app


def test_varchar_in_lists_are_not_drift(project: Project, pg: LocalServer, dbs: Databases) -> None:
    app = _configure(project)
    _write_migration(project, CHOICES)
    _prod_dump(pg, dbs, project)
    try:
        for step in (("db.load-clone",), ("db.fresh",)):
            done = project.run(*step)
            assert done.returncode == 0, done.stdout + done.stderr
        diff = project.run("db.schema-diff", "-a", f"{app}_prod_clone", "-b", f"{app}_fresh")
        assert diff.returncode == 0, diff.stdout + diff.stderr
        assert diff.stdout.startswith("schema-diff: no differences")

        # The same gate, run by refactor-check.
        report = project.root / "report"
        check = project.run("refactor-check", "--skip-smoke", "--report", str(report))
        stages = json.loads((report / "report.json").read_text())["stages"]
        schema = next(stage for stage in stages if stage["key"] == "schema")
        assert schema["status"] == "passed", check.stdout + check.stderr
    finally:
        project.run("db.drop-clone", "--yes", "--fresh")


def test_a_changed_in_list_still_shows(project: Project, pg: LocalServer, dbs: Databases) -> None:
    app = _configure(project)
    _write_migration(project, CHOICES + ", 'void'")
    _prod_dump(pg, dbs, project)
    try:
        for step in (("db.load-clone",), ("db.fresh",)):
            done = project.run(*step)
            assert done.returncode == 0, done.stdout + done.stderr
        diff = project.run(
            "db.schema-diff", "-a", f"{app}_prod_clone", "-b", f"{app}_fresh", "--format", "json"
        )
        assert diff.returncode == 1, diff.stdout + diff.stderr
        found = {
            (d["kind"], d["name"], d["attribute"]) for d in json.loads(diff.stdout)["differences"]
        }
        assert found == {
            ("constraint", "public.shop_order.shop_order_status_check", "definition"),
            ("index", "public.shop_order_open_idx", "definition"),
            ("index", "public.shop_order_open_idx", "predicate"),
        }
    finally:
        project.run("db.drop-clone", "--yes", "--fresh")


def test_fresh_build_is_marked_ours_and_leaves_no_staging(
    project: Project, pg: LocalServer
) -> None:
    app = _configure(project)
    _write_migration(project, CHOICES)
    try:
        done = project.run("db.fresh")
        assert done.returncode == 0, done.stdout + done.stderr
        with pg.connect() as conn:
            rows = conn.execute(
                "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE datname LIKE %s ORDER BY 1",
                (f"{app}%",),
            ).fetchall()
        # One database, marked ours (the mark goes on to record the build's inputs).
        assert [name for name, _ in rows] == [f"{app}_fresh"]
        assert rows[0][1].startswith("prodclone:fresh"), rows
    finally:
        project.run("db.drop-clone", "--yes", "--fresh")
