"""The embedded server and settings, as a user meets them through `inv`."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from prodclone.errors import ProdcloneError
from prodclone.local.embedded import EmbeddedServer
from prodclone.local.lock import LOCK_KEY
from prodclone.local.server import LocalServer
from prodclone.pg.tools import find_tool
from tests.conftest import Project
from tests.local.test_load_clone import blocked_session, make_dump
from tests.repo_tasks import use_repo_tasks
from tests.terminal import second_terminal


def test_inv_list_shows_every_task_with_a_summary(project: Project) -> None:
    result = project.run("--list")
    assert result.returncode == 0, result.stderr
    assert "db.server" in result.stdout
    task_lines = [
        line for line in result.stdout.splitlines()[2:] if line.startswith("  ") and line[2] != " "
    ]
    assert task_lines
    for line in task_lines:
        assert len(line.split(None, 1)) == 2, f"task without a summary: {line!r}"


def test_db_server_reports_running_embedded_server(project: Project) -> None:
    result = project.run("db.server")
    assert result.returncode == 0, result.stderr
    assert "embedded server: postgresql://postgres@/postgres" in result.stdout
    assert "PostgreSQL 18" in result.stdout


def test_remote_url_refused_unless_allowed(project: Project) -> None:
    project.configure({"local": {"url": "postgresql://app:secret@db.example.com/app"}})
    result = project.run("db.server")
    assert result.returncode != 0
    assert "db.example.com" in result.stderr
    assert "allow_remote" in result.stderr
    assert "secret" not in result.stderr + result.stdout


def test_bad_setting_names_key_and_env_var(project: Project) -> None:
    project.configure({"local": {"restore_jobs": "many"}})
    result = project.run("db.server")
    assert result.returncode == 2
    assert "prodclone.local.restore_jobs must be a whole number" in result.stderr
    assert "INVOKE_PRODCLONE_LOCAL_RESTORE_JOBS" in result.stderr


def test_env_var_overrides_config(project: Project) -> None:
    result = project.run(
        "db.server", env={"INVOKE_PRODCLONE_LOCAL_URL": "postgresql://u@10.1.2.3/x"}
    )
    assert result.returncode != 0
    assert "10.1.2.3" in result.stderr


def external_url(pg: LocalServer, user: str = "postgres") -> str:
    """The session's server reached as `prodclone.local.url`, over its socket, with a password."""
    query = urlsplit(pg.base_url).query
    return f"postgresql://{user}@/postgres?{query}&password=s3cret-pw"


def test_external_server_by_url_loads_a_clone_and_never_prints_the_password(
    project: Project, pg: LocalServer
) -> None:
    app = f"ext_{uuid.uuid4().hex[:8]}"
    project.configure({"app": app, "local": {"url": external_url(pg), "keep_spare": False}})
    make_dump(pg, project.root / "dump")

    shown = project.run("db.server")
    assert shown.returncode == 0, shown.stderr
    assert "external server: postgresql://postgres@/postgres?" in shown.stdout
    loaded = project.run("db.load-clone")
    assert loaded.returncode == 0, loaded.stderr
    assert "restored in full" in loaded.stdout
    assert "password=***" in loaded.stdout  # the url line, masked
    dropped = project.run("db.drop-clone", "--yes")
    assert dropped.returncode == 0, dropped.stderr
    assert f"dropped database {app}_prod_clone" in dropped.stdout
    for result in (shown, loaded, dropped):
        assert "s3cret-pw" not in result.stdout + result.stderr


def test_a_role_without_createdb_gets_one_line_not_a_traceback(
    project: Project, pg: LocalServer
) -> None:
    role = f"app_{uuid.uuid4().hex[:8]}"
    with pg.connect() as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        project.configure(
            {"local": {"url": external_url(pg, role)}, "commands": {"migrate": "true"}}
        )
        result = project.run("db.fresh")
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            "prodclone: database error: permission denied to create database"
        ]
    finally:
        with pg.connect() as conn:
            conn.execute(f'DROP ROLE "{role}"')


def test_embedded_server_starts_on_first_use_is_reused_and_stops(
    open_tmp: Path, pg_data_dir: Path, request: pytest.FixtureRequest
) -> None:
    """Its own data folder under the project (`.prodclone`), not the session's server."""
    project = Project(open_tmp, pg_data_dir, request)
    project.configure({"local": {"data_dir": ".prodclone"}})
    server = EmbeddedServer(project.root / ".prodclone")
    try:
        first = project.run("db.server")
        assert first.returncode == 0, first.stderr
        assert "state: running, PostgreSQL 18" in first.stdout
        assert f"data: {project.root.resolve() / '.prodclone'}" in first.stdout
        pid = server.status().pid
        assert pid is not None
        subprocess.run(["git", "init", "-q"], cwd=project.root, check=True)
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=project.root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "tasks.py" in status and ".prodclone" not in status  # its rows are prod's

        again = project.run("db.server")
        assert again.returncode == 0, again.stderr
        assert server.status().pid == pid  # reused, not restarted

        # A command at work in another terminal holds the lock: --stop waits for it.
        holder = psycopg.connect(server.status().url(), autocommit=True)
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        with second_terminal(project.root, "db.server", "--stop") as stopping:
            try:
                assert blocked_session(holder, stopping.process, "wait_event = %s", "advisory")
                assert server.status().running
            finally:
                holder.close()
            out, err = stopping.finish()
        assert "db.server --stop waits for it" in err
        assert out.strip() == "embedded server stopped"
        assert not server.status().running
        idle = project.run("db.server", "--stop")
        assert idle.stdout.strip() == "embedded server was not running"
    finally:
        server.stop()


def test_client_tools_are_the_newest_at_least_as_new_as_the_server(pg: LocalServer) -> None:
    tool = find_tool("pg_restore", 15, pg.extra_bin_dirs)
    assert tool.major >= 18  # the embedded one, though an older one may be installed too
    with pytest.raises(ProdcloneError) as caught:
        find_tool("pg_restore", 99, pg.extra_bin_dirs)
    message = str(caught.value)
    assert message.startswith("no pg_restore of PostgreSQL 99 or newer was found (seen: ")
    assert f"{tool.path} ({tool.major})" in message
    assert message.endswith("install postgresql-client-99 or put one on PATH")


@pytest.mark.parametrize(
    ("url", "env", "host"),
    [
        ("postgresql://u@localhost/x?hostaddr=10.9.8.7", {}, "10.9.8.7"),
        ("postgresql://u@/x", {"PGHOST": "db.example.com"}, "db.example.com"),
        ("postgresql://u@127.0.0.1,db2.example.com/x", {}, "db2.example.com"),
    ],
)
def test_remote_hosts_hidden_in_the_url_or_env_are_refused(
    project: Project, url: str, env: dict[str, str], host: str
) -> None:
    project.configure({"local": {"url": url}})
    result = project.run("db.drop-clone", "--yes", env=env)
    assert result.returncode == 1
    assert f"prodclone.local.url points at {host!r}, which is not this machine" in result.stderr


def test_an_unreachable_local_url_names_the_failure(project: Project) -> None:
    project.configure({"local": {"url": "postgresql://u:pw-77@/x?host=/nonexistent-dir"}})
    result = project.run("db.server")
    assert result.returncode == 1
    assert result.stderr.startswith(
        "prodclone: cannot connect to the local server postgresql://u:***@/x?host=/nonexistent-dir"
    )
    assert "No such file or directory" in result.stderr
    assert "pw-77" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("db.load-clone", "--jobs", "abc"), "prodclone: --jobs takes a whole number (got 'abc')"),
        (("db.load-clone", "--jobs", "0"), "prodclone: --jobs must be at least 1 (got 0)"),
        (("demo", "--rows", "many"), "prodclone: --rows takes a whole number (got 'many')"),
    ],
)
def test_bad_numbers_in_flags_are_one_line(
    project: Project, args: tuple[str, ...], line: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if args[0] == "demo":
        # The demo is the repository's: its tasks.py, with the demo package importable.
        use_repo_tasks(project, monkeypatch)
    result = project.run(*args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [line]


# Loopback only, fake keys: even a run that got past the check would reach no one.
NO_CLOUD = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.mark.parametrize("task", ["db.load-clone", "db.clone-prod"])
def test_jobs_has_an_upper_bound(project: Project, task: str) -> None:
    result = project.run(task, "--jobs", "99999", env=NO_CLOUD)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        "prodclone: --jobs must be at most 64 (got 99999): "
        "each job holds its own database connection"
    ]
    assert result.stdout == ""


def test_restore_jobs_setting_has_an_upper_bound(project: Project) -> None:
    result = project.run("db.load-clone", env={"INVOKE_PRODCLONE_LOCAL_RESTORE_JOBS": "99999"})
    assert result.returncode == 2, result.stdout + result.stderr
    line = result.stderr.strip().splitlines()
    assert len(line) == 1
    assert line[0].startswith(
        "prodclone: prodclone.local.restore_jobs must be at most 64 (got 99999)"
    )
