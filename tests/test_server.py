"""The embedded server and settings, as a user meets them through `inv`."""

from __future__ import annotations

from tests.conftest import Project


def test_inv_list_shows_every_task_with_a_summary(project: Project) -> None:
    result = project.inv("--list")
    assert result.returncode == 0, result.stderr
    assert "db.server" in result.stdout
    task_lines = [
        line for line in result.stdout.splitlines()[2:] if line.startswith("  ") and line[2] != " "
    ]
    assert task_lines
    for line in task_lines:
        assert len(line.split(None, 1)) == 2, f"task without a summary: {line!r}"


def test_db_server_reports_running_embedded_server(project: Project) -> None:
    result = project.inv("db.server")
    assert result.returncode == 0, result.stderr
    assert "embedded server: postgresql://postgres@/postgres" in result.stdout
    assert "PostgreSQL 18" in result.stdout


def test_remote_url_refused_unless_allowed(project: Project) -> None:
    project.configure({"local": {"url": "postgresql://app:secret@db.example.com/app"}})
    result = project.inv("db.server")
    assert result.returncode != 0
    assert "db.example.com" in result.stderr
    assert "allow_remote" in result.stderr
    assert "secret" not in result.stderr + result.stdout


def test_bad_setting_names_key_and_env_var(project: Project) -> None:
    project.configure({"local": {"restore_jobs": "many"}})
    result = project.inv("db.server")
    assert result.returncode == 2
    assert "prodclone.local.restore_jobs must be a whole number" in result.stderr
    assert "INVOKE_PRODCLONE_LOCAL_RESTORE_JOBS" in result.stderr


def test_env_var_overrides_config(project: Project) -> None:
    result = project.inv(
        "db.server", env={"INVOKE_PRODCLONE_LOCAL_URL": "postgresql://u@10.1.2.3/x"}
    )
    assert result.returncode != 0
    assert "10.1.2.3" in result.stderr
