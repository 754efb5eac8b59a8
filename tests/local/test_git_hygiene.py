"""Dumps made by hand and report folders never reach a commit (`git add -A`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from prodclone.local.server import LocalServer
from tests.conftest import Project
from tests.local.test_load_clone import app_project, clone_of, list_in, make_dump
from tests.pipes import inv_into_closed_pipe

__all__ = ["app_project"]  # the fixture, shared with the load-clone tests


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture
def repo(app_project: Project) -> Project:
    """The user's project is a git repository with a hand-made dump in dump/."""
    git(app_project.root, "init", "-q")
    app = app_project.app  # type: ignore[attr-defined]
    app_project.configure(
        {"app": app, "local": {"keep_spare": False}, "commands": {"migrate": "true"}}
    )
    return app_project


def test_hand_made_dump_and_reports_are_never_staged(repo: Project, pg: LocalServer) -> None:
    make_dump(pg, repo.root / "dump", name="x.dump")
    loaded = repo.run("db.load-clone", "--dump", "dump/x.dump")
    assert loaded.returncode == 0, loaded.stderr
    assert "added /dump/ to .gitignore: dumps hold personal data" in loaded.stderr
    checked = repo.run("refactor-check", "--dump", "dump/x.dump", "--skip-smoke")
    assert "WARNING" not in checked.stderr, checked.stderr
    assert any((repo.root / "reports").iterdir())  # the run wrote its report there

    status = git(repo.root, "status", "--porcelain", "--ignored").splitlines()
    assert "!! dump/" in status and "!! reports/" in status, status
    git(repo.root, "add", "-A")
    staged = git(repo.root, "diff", "--cached", "--name-only").splitlines()
    assert staged and not [p for p in staged if p.startswith(("dump/", "reports/"))], staged
    assert (repo.root / "dump").stat().st_mode & 0o777 == 0o700


def test_a_dump_already_committed_is_said_loudly(repo: Project, pg: LocalServer) -> None:
    dump = make_dump(pg, repo.root / "dump", name="x.dump")
    git(repo.root, "add", "dump/x.dump")
    git(repo.root, "commit", "-q", "-m", "a dump committed before prodclone was used")
    loaded = repo.run("db.load-clone", "--dump", "dump/x.dump")
    assert loaded.returncode == 0, loaded.stderr
    warnings = [line for line in loaded.stderr.splitlines() if "WARNING" in line]
    folder = dump.parent.resolve()
    assert warnings == [
        f"prodclone: WARNING: git does not ignore {folder}, which holds personal data "
        f"(git already tracks it); run git rm -r --cached {folder} and commit"
    ]


def test_notices_into_a_closed_pipe_do_not_stop_the_load(repo: Project, pg: LocalServer) -> None:
    """`inv db.load-clone 2>&1 | head -1`: the .gitignore notice meets the closed pipe too."""
    make_dump(pg, repo.root / "dump")  # a prod-*.dump: found without --dump
    done = inv_into_closed_pipe(repo.root, "db.load-clone", with_stderr=True)
    assert done.returncode == 0
    assert clone_of(repo) in {db.name for db in list_in(pg)}
    assert "/dump/" in (repo.root / ".gitignore").read_text().splitlines()
