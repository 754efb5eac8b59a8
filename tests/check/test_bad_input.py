"""Bad flags and settings stop refactor-check with one line, before the clone is touched."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.check.conftest import CheckProject, Result
from tests.repo_tasks import use_repo_tasks


def one_line(result: Result) -> str:
    """The whole output, which must be exactly one line; the run stopped before the reset."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert result.code == 2, result.output
    return lines[0]


def test_report_path_that_is_a_file(checker: CheckProject) -> None:
    checker.configure()
    taken = checker.root / "taken.txt"
    taken.write_text("keep me\n")
    result = checker.check(report=taken)
    assert one_line(result) == (
        f"prodclone: --report {taken} is a file: pass a folder (it receives report.md, "
        "report.json, junit.xml and app.log)"
    )
    assert taken.read_text() == "keep me\n"


def test_report_dir_setting_under_a_file(checker: CheckProject) -> None:
    taken = checker.root / "taken.txt"
    taken.write_text("keep me\n")
    checker.configure(check={"report_dir": str(taken)})
    done = checker.project.run("refactor-check", "--dump", str(checker.dump))
    result = Result(done.returncode, done.stdout + done.stderr, taken)
    line = one_line(result)
    assert line.startswith(f"prodclone: prodclone.check.report_dir {taken}/"), line
    assert line.endswith("cannot be created: Not a directory")
    assert taken.read_text() == "keep me\n"


def test_dump_that_does_not_exist(checker: CheckProject) -> None:
    checker.configure()
    missing = checker.root / "prod-missing.dump"
    result = checker.check(dump=missing)
    assert one_line(result).startswith(f"prodclone: --dump {missing} does not exist: ")
    assert not result.report.exists()


def test_no_dump_at_all(checker: CheckProject) -> None:
    checker.configure(dump_dir=str(checker.root / "empty-dumps"))
    done = checker.project.run("refactor-check")
    result = Result(done.returncode, done.stdout + done.stderr, checker.root / "reports")
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.code == 1 and len(lines) == 1, result.output
    assert "no dump found in" in lines[0] and "--dump PATH" in lines[0]
    assert not result.report.exists()


def test_migrate_command_not_set(checker: CheckProject) -> None:
    checker.configure(commands={"migrate": ""})
    result = checker.check()
    assert one_line(result).startswith("prodclone: prodclone.commands.migrate is not set")
    assert "INVOKE_PRODCLONE_COMMANDS_MIGRATE" in result.output
    assert not result.report.exists()


def test_serve_without_a_readiness_signal(checker: CheckProject) -> None:
    checker.configure(check={"serve_ready_line": "", "serve_ready_port": 0})
    result = checker.check()
    assert one_line(result) == (
        "prodclone: prodclone.commands.serve is set but neither prodclone.check.serve_ready_line "
        "nor prodclone.check.serve_ready_port is: set one (in invoke.yaml, or with "
        "INVOKE_PRODCLONE_CHECK_SERVE_READY_LINE) so refactor-check knows when the app is up"
    )
    assert not result.report.exists()


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        (
            {"log_patterns": ["column (unclosed"]},
            "prodclone.check.log_patterns holds an invalid regular expression 'column (unclosed'",
        ),
        (
            {"serve_ready_line": "listening ["},
            "prodclone.check.serve_ready_line holds an invalid regular expression",
        ),
        ({"serve_ready_port": 70000}, "prodclone.check.serve_ready_port"),
        ({"serve_timeout": "soon"}, "prodclone.check.serve_timeout"),
    ],
)
def test_bad_check_settings(checker: CheckProject, check: dict[str, object], expected: str) -> None:
    checker.configure(check=check)
    result = checker.check()
    line = one_line(result)
    assert expected in line and "INVOKE_PRODCLONE_CHECK_" in line, line
    assert not result.report.exists()


def test_ready_port_that_already_answers(checker: CheckProject) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        checker.configure(check={"serve_ready_line": "", "serve_ready_port": port})
        result = checker.check()
    assert one_line(result).startswith(
        f"prodclone: prodclone.check.serve_ready_port {port} already answers before the app"
    )
    assert not result.report.exists()


def test_demo_with_no_rows(checker: CheckProject, monkeypatch: pytest.MonkeyPatch) -> None:
    checker.configure()
    use_repo_tasks(checker.project, monkeypatch)
    done = checker.project.run("demo", "--rows", "0")
    result = Result(done.returncode, done.stdout + done.stderr, Path("unused"))
    assert one_line(result) == "prodclone: --rows must be at least 1 (documents in the demo's data)"


def test_bad_gained_rows_switch(checker: CheckProject) -> None:
    checker.configure(check={"fail_on_gained_rows": "sometimes"})
    line = one_line(checker.check())
    assert "prodclone.check.fail_on_gained_rows" in line, line
    assert "INVOKE_PRODCLONE_CHECK_FAIL_ON_GAINED_ROWS" in line, line


@pytest.mark.parametrize("pattern", ["/etc/*.conf", "../elsewhere/*.py", "~/migrations/*.py"])
def test_fresh_inputs_outside_the_project(checker: CheckProject, pattern: str) -> None:
    checker.configure(commands={"fresh_inputs": ["migrations/*.sql", pattern]})
    result = checker.check()
    line = one_line(result)
    assert line.startswith("prodclone: prodclone.commands.fresh_inputs takes paths or globs"), line
    assert repr(pattern) in line and "INVOKE_PRODCLONE_COMMANDS_FRESH_INPUTS" in line, line
    assert not result.report.exists()
