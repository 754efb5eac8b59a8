"""The deploy window: the running release's code (the base ref) against the migrated clone.

A real git repository with two commits: the base (the running release) and HEAD
(a migration and the code that goes with it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.check.conftest import CheckProject, script

# The app's one query, as each release writes it.
APP = """
import os, sys
import psycopg
with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
    conn.execute("SELECT {columns} FROM documents LIMIT 1").fetchall()
print("{what} ok")
"""

RENAME = "ALTER TABLE documents RENAME COLUMN filename TO file_name;\n"
ADDITIVE = "ALTER TABLE documents ADD COLUMN notes text;\n"


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def two_releases(checker: CheckProject, migration: str, new_columns: str, **check: object) -> None:
    """Commit 1 on main: the app reading `filename`. Commit 2 on a branch: `migration`
    and the app reading `new_columns`."""
    root = checker.root
    checker.configure(
        commands={
            "migrate": script("migrate.py", "--pending", "corrected"),
            "boot": f"{sys.executable} app.py",
            "serve": "",
            "smoke": [f"{sys.executable} app.py"],
        },
        check={"zero_downtime": True, **check},
    )
    (root / ".gitignore").write_text("reports/\nreport/\n.prodclone/\ndump/\n")
    (root / "app.py").write_text(APP.format(columns="id, filename", what="release 1"))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "release 1")
    git(root, "checkout", "-q", "-b", "feature")
    checker.add_migration("0006_documents.sql", migration)
    (root / "app.py").write_text(APP.format(columns=new_columns, what="release 2"))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "release 2")


def worktrees(root: Path) -> str:
    return subprocess.run(
        ["git", "worktree", "list"], cwd=root, capture_output=True, text=True, check=True
    ).stdout


def test_a_column_rename_breaks_the_running_release(checker: CheckProject) -> None:
    two_releases(checker, RENAME, "id, file_name")
    result = checker.check()
    assert result.code == 1, result.output
    deploy = result.stage("deploy")
    assert deploy["status"] == "failed"
    assert deploy["summary"].startswith(
        "the running release breaks on this migration: deploy it with downtime, or split it "
        "(expand, deploy, then contract). The base ref merge-base of HEAD and main ("
    )
    assert 'column "filename" does not exist' in result.markdown
    assert result.json["failed_stages"] == ["deploy"]
    # The boot ran the base ref's code, before migrating: it read `filename` and passed.
    boot = result.stage("boot")
    assert boot["status"] == "passed" and "release 1 ok" in result.output
    assert "the running release (merge-base of HEAD and main" in boot["summary"]
    # The new code passes the smoke stage; only the old one breaks.
    assert result.stage("smoke")["status"] == "passed"
    assert len(worktrees(checker.root).splitlines()) == 1


def test_without_zero_downtime_the_break_is_shown_but_does_not_fail(
    checker: CheckProject,
) -> None:
    two_releases(checker, RENAME, "id, file_name", zero_downtime=False)
    result = checker.check()
    assert result.code == 0, result.output
    assert result.stage("deploy")["status"] == "warning"
    assert result.json["verdict"] == (
        "PASSED; the running release breaks on this migration (deploy window)"
    )
    assert "the running release breaks on this migration" in result.markdown


def test_an_additive_migration_passes_the_deploy_window(checker: CheckProject) -> None:
    two_releases(checker, ADDITIVE, "id, filename, notes")
    result = checker.check()
    assert result.code == 0, result.output
    deploy = result.stage("deploy")
    assert deploy["status"] == "passed"
    assert "serves and passes 1 smoke command(s) against the migrated clone" in deploy["summary"]
    assert len(worktrees(checker.root).splitlines()) == 1


def test_base_ref_equal_to_head_is_skipped_saying_why(checker: CheckProject) -> None:
    two_releases(checker, ADDITIVE, "id, filename", base_ref="feature")
    result = checker.check()
    assert result.code == 0, result.output
    assert result.stage("deploy")["status"] == "skipped"
    assert "is HEAD itself" in result.stage("deploy")["summary"]
