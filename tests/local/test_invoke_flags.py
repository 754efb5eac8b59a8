"""Invoke's own flags and shell habits: `inv --dry ...`, `inv ... | head`."""

from __future__ import annotations

import pytest

from prodclone.local.server import LocalServer
from tests.conftest import Project
from tests.local.test_load_clone import app_project, clone_of, list_in, make_dump
from tests.pipes import assert_no_traceback, inv_into_closed_pipe
from tests.repo_tasks import use_repo_tasks

__all__ = ["app_project"]  # the fixture, shared with the load-clone tests


def names_in(pg: LocalServer) -> set[str]:
    return {info.name for info in list_in(pg)}


def test_dry_drop_clone_only_says_what_it_would_drop(app_project: Project, pg: LocalServer) -> None:
    make_dump(pg, app_project.root / "dump")
    assert app_project.run("db.load-clone").returncode == 0
    clone = clone_of(app_project)
    result = app_project.run("--dry", "db.drop-clone", "--yes")
    assert result.returncode == 0, result.stderr
    assert f"would drop database {clone}" in result.stdout, result.stdout
    assert clone in names_in(pg)


@pytest.mark.parametrize(
    ("task", "args"),
    [
        ("db.load-clone", ()),
        ("db.fresh", ()),
        ("db.server", ("--stop",)),
        ("refactor-check", ()),
        ("demo", ("--clean",)),
    ],
)
def test_dry_is_refused_in_one_line_by_tasks_without_a_dry_run(
    app_project: Project,
    pg: LocalServer,
    task: str,
    args: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if task == "demo":
        use_repo_tasks(app_project, monkeypatch)
    make_dump(pg, app_project.root / "dump")
    app_project.configure({"app": app_project.app, "commands": {"migrate": "true"}})  # type: ignore[attr-defined]
    before = names_in(pg)
    result = app_project.run("--dry", task, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == (
        f"prodclone: {task} has no dry run, and inv --dry would not stop it: "
        "nothing was changed; run it without --dry"
    )
    assert result.stdout == ""
    assert names_in(pg) == before


def test_output_into_a_closed_pipe_ends_the_load_without_a_traceback(
    app_project: Project, pg: LocalServer
) -> None:
    make_dump(pg, app_project.root / "dump")
    result = inv_into_closed_pipe(app_project.root, "db.load-clone")
    assert_no_traceback(result.stderr)
    assert result.returncode == 0
    assert clone_of(app_project) in names_in(pg)  # the load finished all the same
