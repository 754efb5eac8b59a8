"""The `prodclone` console script, run as a user runs it: in a folder with no tasks.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from prodclone.local.server import LocalServer

PRODCLONE = Path(sys.executable).parent / "prodclone"


class Scratch:
    """A folder holding only an invoke.yaml, where `prodclone` runs."""

    def __init__(self, root: Path, data_dir: Path) -> None:
        self.root = root
        self.data_dir = data_dir
        self.configure({})

    def configure(self, block: dict[str, Any]) -> None:
        local = {"data_dir": str(self.data_dir), **block.pop("local", {})}
        config = {"prodclone": {"app": "scratch", "local": local, **block}}
        # JSON is valid YAML.
        (self.root / "invoke.yaml").write_text(json.dumps(config))

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {
            name: value for name, value in os.environ.items() if not name.startswith("INVOKE_")
        }
        return subprocess.run(
            [str(PRODCLONE), *args],
            cwd=self.root,
            env={**full_env, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
            capture_output=True,
            text=True,
            timeout=240,
            stdin=subprocess.DEVNULL,
            check=False,
        )


@pytest.fixture
def scratch(tmp_path: Path, pg_data_dir: Path) -> Scratch:
    folder = tmp_path / "work"
    folder.mkdir()
    assert not (folder / "tasks.py").exists()
    return Scratch(folder, pg_data_dir)


def test_version_names_prodclone_and_invoke(scratch: Scratch) -> None:
    result = scratch.run("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"prodclone {version('prodclone')}",
        f"Invoke {version('invoke')}",
    ]


def test_list_shows_the_tasks_without_a_tasks_py(scratch: Scratch) -> None:
    result = scratch.run("--list")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")]
    assert {"refactor-check", "db.load-clone", "db.server", "db.clone-prod"} <= set(names)


def test_help_for_one_task(scratch: Scratch) -> None:
    result = scratch.run("-h", "db.load-clone")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: prodclone [--core-opts] db.load-clone [--options]")
    assert "Load a prod dump into the local clone database." in result.stdout
    assert "--dump" in result.stdout


def test_a_reader_that_leaves_early_gets_no_traceback(scratch: Scratch) -> None:
    """`prodclone --list | head -1`, with the reader gone before the first line."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [str(PRODCLONE), "--list"],
            cwd=scratch.root,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == 1


def test_unknown_task_is_a_usage_error(scratch: Scratch) -> None:
    result = scratch.run("db.no-such-task")
    assert result.returncode != 0
    assert "No idea what 'db.no-such-task' is!" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_task_reads_invoke_yaml(scratch: Scratch, pg: LocalServer) -> None:
    result = scratch.run("db.server")
    assert result.returncode == 0, result.stderr
    assert "embedded server: postgresql://postgres@/postgres" in result.stdout
    assert f"data: {scratch.data_dir}" in result.stdout.splitlines()


def test_invoke_yaml_is_found_from_a_subfolder(scratch: Scratch, pg: LocalServer) -> None:
    """As `inv` finds tasks.py above the current folder: relative paths start there."""
    below = scratch.root / "src" / "app"
    below.mkdir(parents=True)
    result = subprocess.run(
        [str(PRODCLONE), "db.server"], cwd=below, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr
    assert f"data: {scratch.data_dir}" in result.stdout.splitlines()


def test_a_task_reads_an_env_var_over_invoke_yaml(scratch: Scratch, pg: LocalServer) -> None:
    url = pg.url("postgres")
    result = scratch.run("db.server", env={"INVOKE_PRODCLONE_LOCAL_URL": url})
    assert result.returncode == 0, result.stderr
    assert f"external server: {pg.masked('postgres')}" in result.stdout.splitlines()


def test_false_in_an_env_var_is_false_over_true_in_invoke_yaml(scratch: Scratch) -> None:
    """Invoke's own cast makes any text but "" and "0" true for a key YAML set to a bool."""
    scratch.configure({"local": {"url": "postgresql://u@db.example.com/x", "allow_remote": True}})
    result = scratch.run("db.server", env={"INVOKE_PRODCLONE_LOCAL_ALLOW_REMOTE": "false"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith("prodclone: prodclone.local.url points at 'db.example.com'")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("env", "yaml", "line"),
    [
        (
            {"INVOKE_PRODCLONE_LOCAL_RESTORE_JOBS": "many"},
            {"local": {"restore_jobs": 3}},
            "prodclone: prodclone.local.restore_jobs must be a whole number (got 'many'); "
            "set it in invoke.yaml (prodclone: ...) or with INVOKE_PRODCLONE_LOCAL_RESTORE_JOBS",
        ),
        (
            {"INVOKE_PRODCLONE_LOCAL_KEEP_SPARE": "sometimes"},
            {},
            "prodclone: prodclone.local.keep_spare must be true or false (got 'sometimes'); "
            "set it in invoke.yaml (prodclone: ...) or with INVOKE_PRODCLONE_LOCAL_KEEP_SPARE",
        ),
        (
            {"INVOKE_PRODCLONE_LOCAL_DB_ENV": "A=b"},
            {"local": {"db_env": {"B": "c"}}},
            "prodclone: prodclone.local.db_env must be a JSON object; "
            "set it in invoke.yaml (prodclone: ...) or with INVOKE_PRODCLONE_LOCAL_DB_ENV",
        ),
        (
            {"INVOKE_PRODCLONE_COMMANDS_SMOKE": "[not json"},
            {"commands": {"smoke": ["a"]}},
            "prodclone: prodclone.commands.smoke is not a valid JSON list; "
            "set it in invoke.yaml (prodclone: ...) or with INVOKE_PRODCLONE_COMMANDS_SMOKE",
        ),
    ],
)
def test_a_bad_env_var_is_one_line_and_a_usage_error(
    scratch: Scratch, env: dict[str, str], yaml: dict[str, Any], line: str
) -> None:
    """Even over a number or a list that invoke.yaml writes: Invoke alone gives a traceback."""
    scratch.configure(yaml)
    result = scratch.run("db.server", env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [line]
    assert result.stdout == ""


def test_the_mask_secret_is_taken_from_the_environment_only(
    scratch: Scratch, pg: LocalServer
) -> None:
    secret = {"INVOKE_PRODCLONE_MASK_SECRET": "from-the-shell"}
    result = scratch.run("db.server", env=secret)
    assert result.returncode == 0, result.stderr
    assert "from-the-shell" not in result.stdout + result.stderr
    scratch.configure({"mask": {"secret": "in-a-file"}})
    result = scratch.run("db.server", env=secret)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "prodclone: prodclone.mask.secret must not be written in a file (invoke.yaml): "
        "remove it there and set it only with INVOKE_PRODCLONE_MASK_SECRET"
    ]


def test_a_variable_that_names_no_setting_is_said(scratch: Scratch, pg: LocalServer) -> None:
    result = scratch.run("db.server", env={"INVOKE_PRODCLONE_LOCAL_ULR": "postgresql://x@y/z"})
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "prodclone: INVOKE_PRODCLONE_LOCAL_ULR names no setting and is ignored"
    ]
    assert "embedded server:" in result.stdout


def test_a_runtime_file_wins_over_an_env_var(scratch: Scratch, pg: LocalServer) -> None:
    """`-f FILE` is above the environment, as in Invoke: a variable it hides is not read."""
    runtime = scratch.root / "runtime.yaml"
    runtime.write_text(json.dumps({"prodclone": {"local": {"restore_jobs": 3}}}))
    env = {"INVOKE_PRODCLONE_LOCAL_RESTORE_JOBS": "many"}
    result = scratch.run("-f", str(runtime), "db.server", env=env)
    assert result.returncode == 0, result.stderr
    assert "embedded server:" in result.stdout
    assert scratch.run("db.server", env=env).returncode == 2


@pytest.mark.parametrize(
    ("yaml", "line"),
    [
        (
            {"local": "embedded"},
            "prodclone: prodclone.local in a config file must be a mapping of keys (got str); "
            "write its keys indented under `local:`",
        ),
        (
            {"local": {"db_env": "A=b"}},
            "prodclone: prodclone.local.db_env in a config file must be a mapping of names to "
            "values (got str); or set it with INVOKE_PRODCLONE_LOCAL_DB_ENV as a JSON object",
        ),
    ],
)
def test_a_single_value_for_a_mapping_in_invoke_yaml_is_one_line(
    scratch: Scratch, yaml: dict[str, Any], line: str
) -> None:
    """Invoke alone stops with a traceback: it cannot merge text over the declared mapping."""
    (scratch.root / "invoke.yaml").write_text(json.dumps({"prodclone": yaml}))
    result = scratch.run("db.server")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [line]


def test_env_var_replaces_a_list_and_a_mapping_of_invoke_yaml(
    scratch: Scratch, pg: LocalServer
) -> None:
    """Invoke alone cannot cast an env var over a YAML list (a traceback before any task ran);
    a mapping from an env var replaces the file's whole, as under `inv`."""
    app = f"envlist_{uuid.uuid4().hex[:8]}"
    scratch.configure(
        {
            "app": app,
            "local": {"db_env": {"FROM_YAML": "yaml"}},
            "commands": {"smoke": ["./smoke a", "./smoke b"], "migrate": "echo from-yaml"},
        }
    )
    migrate = (
        'echo "from-env yaml=${FROM_YAML:-unset} env=$FROM_ENV" && psql -qc "CREATE TABLE t()"'
    )
    try:
        result = scratch.run(
            "db.fresh",
            env={
                "INVOKE_PRODCLONE_COMMANDS_SMOKE": '["./smoke c"]',
                "INVOKE_PRODCLONE_COMMANDS_MIGRATE": migrate,
                "INVOKE_PRODCLONE_LOCAL_DB_ENV": '{"FROM_ENV": "{db}"}',
            },
        )
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert f"from-env yaml=unset env={app}_fresh" in result.stdout
    finally:
        with pg.connect() as conn:
            fresh = sql.Identifier(f"{app}_fresh")
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(fresh))


def test_importing_the_tasks_leaves_the_environment_alone() -> None:
    """A project's tasks.py imports prodclone.tasks: the process environment stays whole."""
    code = (
        "import os; os.environ['INVOKE_PRODCLONE_APP'] = 'kept'; import prodclone.tasks; "
        "print(os.environ.get('INVOKE_PRODCLONE_APP'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "kept"


def test_run_in_process_returns_the_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The seam for in-process tests: the program with an argv, its exit code, no sys.exit."""
    from prodclone.program import run

    monkeypatch.chdir(tmp_path)
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.startswith("prodclone ")
    assert run(["--no-such-flag"]) == 2  # a usage error (docs/commands.md); `inv` says 1
    monkeypatch.setenv("INVOKE_PRODCLONE_LOCAL_RESTORE_JOBS", "many")
    assert run(["db.server"]) == 2
    assert "INVOKE_PRODCLONE_LOCAL_RESTORE_JOBS" in capsys.readouterr().err


def test_run_in_process_takes_the_project_folder(
    scratch: Scratch, pg: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from prodclone.program import run

    assert run(["db.server"], project=scratch.root) == 0
    assert f"data: {scratch.data_dir}" in capsys.readouterr().out.splitlines()
