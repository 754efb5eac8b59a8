"""refactor-check end to end: wiped columns, every DDL lock and rewrite, the lock limit."""

from __future__ import annotations

from tests.check.conftest import CheckProject

# What Django's makemigrations writes when "did you rename?" is answered no.
REMOVE_THEN_ADD = """
ALTER TABLE documents DROP COLUMN filename;
ALTER TABLE documents ADD COLUMN filename text;
"""

RETYPE = "ALTER TABLE documents ALTER COLUMN filename TYPE varchar(400);\n"

SLOW_ADD = """
ALTER TABLE documents ADD COLUMN reviewed boolean NOT NULL DEFAULT false;
DO $$ BEGIN PERFORM pg_sleep(0.8); END $$;
"""


def test_a_wiped_column_fails_the_data_check_naming_it(checker: CheckProject) -> None:
    checker.add_migration("0006_filename.sql", REMOVE_THEN_ADD)
    checker.configure()
    result = checker.check("--skip-smoke")
    assert result.code == 1, result.output
    data = result.stage("data")
    assert data["status"] == "failed", result.output
    assert "public.documents.filename dropped while it held 3000 non-null" in data["summary"]
    assert "public.documents.filename" in result.output
    assert "| public.documents.filename | **LOST/CHANGED** dropped while it held" in (
        result.markdown
    )


def test_a_retype_that_keeps_the_text_passes_and_its_rewrite_is_named(
    checker: CheckProject,
) -> None:
    checker.add_migration("0006_total_numeric.sql", RETYPE)
    checker.configure()
    result = checker.check("--skip-smoke")
    assert result.code == 0, result.output
    assert "columns compared by value: no data lost" in result.stage("data")["summary"]
    migrate = result.stage("migrate")["figures"]
    rewrites = [w for w in migrate["heavy_work"] if w["kind"] == "rewrite"]
    assert [(w["table"], w["why"]) for w in rewrites] == [
        ("public.documents", "table rewritten: a column's type changed")
    ]
    assert rewrites[0]["size_bytes"] > 0 and rewrites[0]["rows"] == 3000
    assert "rewrite of public.documents" in result.stage("migrate")["summary"]
    assert "- rewrite of public.documents (3000 rows, " in result.markdown
    # The orcha rename before it: its quick ACCESS EXCLUSIVE is in the reviewers' table.
    assert (
        "| `ALTER TABLE legal_entity RENAME TO tenant` | ACCESS EXCLUSIVE "
        "| public.legal_entity (now public.tenant) |"
    ) in result.markdown


def test_an_access_exclusive_lock_over_the_limit_fails_the_migrate_stage(
    checker: CheckProject,
) -> None:
    checker.add_migration("0006_reviewed.sql", SLOW_ADD)
    checker.configure(check={"max_lock_seconds": 0.5})
    result = checker.check("--skip-smoke")
    assert result.code == 1, result.output
    migrate = result.stage("migrate")
    assert migrate["status"] == "failed"
    assert (
        "ACCESS EXCLUSIVE lock(s) held longer than check.max_lock_seconds (0.5s)"
        in (migrate["summary"])
    )
    assert "public.documents" in migrate["summary"]
