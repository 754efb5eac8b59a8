"""inv demo end to end, with a smaller production stand-in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prodclone.local.server import LocalServer
from prodclone.pg import databases
from tests.conftest import Project
from tests.repo_tasks import use_repo_tasks


def demo_databases(pg: LocalServer) -> list[str]:
    with pg.connect() as conn:
        found = databases.list_databases(conn)
    return [db.name for db in found if db.name.startswith("orcha_demo")]


def test_demo_catches_the_flawed_rename_then_passes_the_fix(
    project: Project, pg: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_repo_tasks(project, monkeypatch)
    done = project.inv("demo", "--rows", "2000")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "refactor-check: FAILED at references, schema, smoke" in output
    assert "  - references: the trigger function that still reads NEW.legal_entity_id" in output
    assert "refactor-check: PASSED" in output
    assert "Run 2, the corrected migration: PASSED" in output

    reports = sorted((project.root / "reports").glob("demo-*"))
    assert len(reports) == 1
    flawed = json.loads((reports[0] / "1-flawed" / "report.json").read_text())
    corrected = json.loads((reports[0] / "2-corrected" / "report.json").read_text())
    assert flawed["failed_stages"] == ["references", "schema", "smoke"]
    references = next(stage for stage in flawed["stages"] if stage["key"] == "references")
    assert "`legal_entity_id` was renamed to `tenant_id`" in references["summary"]
    schema_details = "\n".join(
        next(stage for stage in flawed["stages"] if stage["key"] == "schema")["details"]
    )
    assert "idx_documents_legal_entity" in schema_details and "$2" in schema_details
    assert corrected["passed"] is True
    # The deploy window: the running release (git main, before the rename) breaks on both.
    for run in (flawed, corrected):
        deploy = next(stage for stage in run["stages"] if stage["key"] == "deploy")
        assert deploy["status"] == "warning"
        assert deploy["summary"].startswith("the running release breaks on this migration")
        assert 'relation "legal_entity" does not exist' in "\n".join(deploy["details"])
    assert "Both drafts break it:" in output and "splits it: (1) expand" in output
    assert corrected["stages"][0]["figures"]["method"] in ("template", "spare")

    # It cleaned up after itself: no demo databases, no demo dump.
    assert demo_databases(pg) == []
    assert list(Path(project.root / "dump" / "demo").glob("*.dump")) == []


def test_demo_keep_then_clean(
    project: Project, pg: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_repo_tasks(project, monkeypatch)
    done = project.run("demo", "--rows", "500", "--keep")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kept for a look" in done.stdout
    assert "orcha_demo_prod_clone" in demo_databases(pg)
    dumps = list((project.root / "dump" / "demo").glob("prod-*.dump"))
    assert len(dumps) == 1 and (dumps[0].stat().st_mode & 0o777) == 0o600
    assert (project.root / "dump").stat().st_mode & 0o777 == 0o700

    cleaned = project.run("demo", "--clean")
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert "dropped database orcha_demo_prod_clone" in cleaned.stdout
    assert demo_databases(pg) == []
    assert not (project.root / "dump" / "demo").exists()
