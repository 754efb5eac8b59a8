"""`Project.run` (the program in this process) says what `Project.inv` (a real `inv`) says."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.conftest import Project, dedent


def same_both_ways(project: Project, *args: str, env: dict[str, str] | None = None) -> None:
    real = project.inv(*args, env=env)
    here = project.run(*args, env=env)
    assert (here.returncode, here.stdout, here.stderr) == (
        real.returncode,
        real.stdout,
        real.stderr,
    ), args


def test_list_and_help(project: Project) -> None:
    same_both_ways(project, "--list")
    same_both_ways(project, "--help", "db.load-clone")


def test_usage_errors(project: Project) -> None:
    same_both_ways(project, "db.load-clone", "--no-such-flag")
    same_both_ways(project, "no-such-task")


def test_settings_error_from_an_env_var_then_nothing_left_set(project: Project) -> None:
    env = {"INVOKE_PRODCLONE_SCHEMA_DIFF_IGNORE": "tables-all"}
    before_env, before_cwd = dict(os.environ), Path.cwd()
    same_both_ways(project, "db.schema-diff", "-a", "x", "-b", "y", env=env)
    done = project.run("db.schema-diff", "-a", "x", "-b", "y", env=env)
    assert done.returncode == 2 and "INVOKE_PRODCLONE_SCHEMA_DIFF_IGNORE" in done.stderr
    assert dict(os.environ) == before_env
    assert Path.cwd() == before_cwd


def test_env_vars_reach_each_run_and_leave_with_it(project: Project) -> None:
    # A list in invoke.yaml written as JSON text takes its env var under `inv`; the
    # run after sees the same, and nothing of the first run's environment stays.
    project.configure({"commands": {"smoke": '["./smoke a", "./smoke b"]'}})
    env = {
        "INVOKE_PRODCLONE_COMMANDS_SMOKE": '["./smoke c"]',
        "INVOKE_PRODCLONE_SCHEMA_DIFF_IGNORE": "tables-all",
    }
    for _ in range(2):
        same_both_ways(project, "db.schema-diff", "-a", "x", "-b", "y", env=env)
    assert not any(name.startswith("INVOKE_PRODCLONE_") for name in os.environ)


def test_output_before_the_run_is_not_the_run_s(project: Project) -> None:
    print("printed by the test")
    done = project.run("--list")
    assert "printed by the test" not in done.stdout
    assert done.returncode == 0 and "db.load-clone" in done.stdout


def test_needs_the_test_s_request(tmp_path: Path, pg_data_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="request"):
        Project(tmp_path, pg_data_dir).run("--list")


def test_the_run_sees_its_own_folder_tmpdir_and_empty_stdin(
    project: Project, tmp_path: Path
) -> None:
    run_tmp = tmp_path / "run-tmp"
    run_tmp.mkdir()
    (project.root / "tasks.py").write_text(
        dedent(
            """
            import os, sys, tempfile
            from invoke import task

            @task
            def where(c):
                print(tempfile.gettempdir(), os.getcwd(), repr(sys.stdin.read()))
                print(os.environ.get("SEAM_PROBE"), file=sys.stderr)
                raise SystemExit(3)
            """
        )
    )
    before = tempfile.gettempdir()
    env = {"TMPDIR": str(run_tmp), "SEAM_PROBE": "seen"}
    same_both_ways(project, "where", env=env)
    done = project.run("where", env=env)
    assert done.returncode == 3
    assert done.stdout == f"{run_tmp} {project.root} ''\n"
    assert done.stderr == "seen\n"
    assert tempfile.gettempdir() == before
    assert "SEAM_PROBE" not in os.environ
