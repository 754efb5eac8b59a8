"""What a failing (or passing) schema gate shows in the terminal, report.md and report.json."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from prodclone.local.server import LocalServer
from tests.conftest import Project
from tests.schema.helpers import Databases, databases, write_prod_dump

# The app's migrations, safe to run again on a database that has them (the clone).
MIGRATION = """
CREATE TABLE IF NOT EXISTS shop_order (id bigint PRIMARY KEY, status text DEFAULT 'new');
-- Data-dependent: skipped wherever the table has rows, as on production.
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM shop_order) THEN
    CREATE INDEX IF NOT EXISTS shop_order_status_idx ON shop_order (status);
  END IF;
END $$;
"""
# Production: the migration with rows, a hand-made index, a hotfixed default, a scratch index.
PROD = (
    "CREATE TABLE shop_order (id bigint PRIMARY KEY, status text DEFAULT 'new');\n"
    "INSERT INTO shop_order VALUES (1, 'paid');\n"
    + MIGRATION
    + """
CREATE INDEX shop_order_hotfix_idx ON shop_order (id, status);
ALTER TABLE shop_order ALTER status SET DEFAULT 'open';
CREATE INDEX tmp_scratch ON shop_order (status, id);
"""
)


@pytest.fixture(scope="module")
def gate_dbs(pg: LocalServer) -> Any:
    with databases(pg, "gate") as created:
        yield created


def _check(project: Project, pg: LocalServer, dbs: Databases, prod: str) -> tuple[Any, Path]:
    app = f"gate_{uuid.uuid4().hex[:8]}"
    (project.root / "migrate.sql").write_text(MIGRATION)
    project.configure(
        {
            "app": app,
            "local": {"keep_spare": False},
            "commands": {"migrate": "psql -X -q -v ON_ERROR_STOP=1 -f migrate.sql"},
            "schema_diff": {"ignore": ["index:public.tmp_*"]},
        }
    )
    dump = write_prod_dump(pg, dbs, project.root / "dump", prod)
    report = project.root / "report"
    try:
        done = project.run(
            "refactor-check", "--skip-smoke", "--dump", str(dump), "--report", str(report)
        )
    finally:
        project.run("db.drop-clone", "--yes", "--fresh")
    return done, report


def _schema_stage(report: Path) -> dict[str, Any]:
    stages = json.loads((report / "report.json").read_text())["stages"]
    return next(stage for stage in stages if stage["key"] == "schema")  # type: ignore[no-any-return]


def test_drift_is_shown_with_advice_that_fits_it(
    project: Project, pg: LocalServer, gate_dbs: Databases
) -> None:
    done, report = _check(project, pg, gate_dbs, PROD)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    stage_line = next(line for line in lines if line.startswith("8. schema: failed in "))
    # Three objects, though the index and the column each differ in one attribute or more.
    assert "schema-diff: 3 objects differ (1 column, 2 index)" in stage_line
    assert "1 hidden (1 by index:public.tmp_*)" in stage_line
    for shown in (
        "    public.shop_order_hotfix_idx: only in a",
        "    public.shop_order_status_idx: only in b",
        "      default: a \"'open'::text\" | b \"'new'::text\"",
    ):
        assert shown in lines
    advice = [line for line in lines if line.startswith("  - ")]
    assert len(advice) == 3, advice
    assert advice[0].startswith("  - only in a (production): index public.shop_order_hotfix_idx.")
    assert "codify it in a migration, drop it on production" in advice[0]
    assert (
        "prodclone.schema_diff.ignore (for example 'index:public.shop_order_hotfix_idx')"
        in (advice[0])
    )
    assert advice[1].startswith("  - only in b (fresh): index public.shop_order_status_idx.")
    assert "a migration step was skipped on production" in advice[1]
    assert advice[2].startswith("  - changed: column public.shop_order.status.")
    # Two indexes on one table, one on each side, but not the same index: no rename advice.
    assert not any("rename" in line for line in advice)
    # What the ignore rules hid, in all three places.
    assert "  hidden by index:public.tmp_* (1):" in lines
    assert "    index public.tmp_scratch: only in a" in lines
    markdown = (report / "report.md").read_text()
    assert "hidden by index:public.tmp_* (1):" in markdown
    assert "  index public.tmp_scratch: only in a" in markdown
    assert "codify it in a migration" in markdown
    figures = _schema_stage(report)["figures"]
    assert figures["objects"] == 3 and figures["by_kind"] == {"column": 1, "index": 2}
    assert figures["hidden_items"] == [
        {
            "kind": "index",
            "name": "public.tmp_scratch",
            "change": "only in a",
            "attribute": None,
            "hidden_by": "index:public.tmp_*",
        }
    ]


def test_long_listing_shows_a_screenful_and_where_the_rest_is(
    project: Project, pg: LocalServer, gate_dbs: Databases
) -> None:
    many = "".join(f"CREATE INDEX drift_{n:02} ON shop_order (id, status);\n" for n in range(60))
    done, report = _check(project, pg, gate_dbs, PROD + many)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "    public.drift_00: only in a" in lines
    assert "    public.drift_59: only in a" not in lines
    more = next(line for line in lines if line.startswith("  ... "))
    assert more.endswith(f"more lines: {report / 'report.md'} (all in report.json)")
    # The advice still follows the cut listing.
    assert any(
        line.startswith("  - only in a (production): index public.drift_00, ") for line in lines
    )
    assert "  public.drift_59: only in a" in _schema_stage(report)["details"]


def test_passing_gate_lists_what_the_rules_hid(
    project: Project, pg: LocalServer, gate_dbs: Databases
) -> None:
    passing = MIGRATION.replace("IF NOT EXISTS (SELECT FROM shop_order)", "IF true")
    prod = passing + "CREATE INDEX tmp_scratch ON shop_order (status, id);"
    (project.root / "migrate.sql").write_text(passing)
    done, report = _check(project, pg, gate_dbs, prod)
    lines = done.stdout.splitlines()
    assert any(line.startswith("8. schema: passed in ") for line in lines), done.stdout
    assert "  hidden by index:public.tmp_* (1):" in lines
    assert "    index public.tmp_scratch: only in a" in lines
    assert "hidden by index:public.tmp_* (1):" in (report / "report.md").read_text()
    assert _schema_stage(report)["figures"]["hidden_items"][0]["name"] == "public.tmp_scratch"
