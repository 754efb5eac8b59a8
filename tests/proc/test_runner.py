"""App commands through Invoke's `c.run` with prodclone's group runner, in process."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from invoke.config import Config
from invoke.context import Context, MockContext
from invoke.runners import Result

from prodclone.local.appcmd import Fold, run_command
from prodclone.proc.runner import GroupRunner
from tests.proc.test_group import gone, kill_quietly, wait_for


class QuickStop(GroupRunner):
    """The group runner as an app with a quick shutdown would set it: the `sleep` a
    shell leaves in the background ignores SIGINT, and SIGTERM comes a second later."""

    stop_grace = 1.0


def context(**run: object) -> Context:
    overrides: dict[str, object] = {"runners": {"local": QuickStop}}
    timeout = run.pop("command_timeout", None)
    if timeout is not None:
        overrides["timeouts"] = {"command": timeout}
    if run:
        overrides["run"] = run
    return Context(Config(overrides=overrides))


def test_output_is_labelled_and_latin1_does_not_fail(tmp_path: Path) -> None:
    shown = io.StringIO()
    result = run_command(
        context(),
        "echo one; printf 'caf\\351\\n'; echo two >&2; exit 3",
        dict(os.environ),
        label="migrate",
        echo=shown,
        cwd=tmp_path,
    )
    assert result.returncode == 3 and not result.ok
    assert shown.getvalue().splitlines() == [
        "  [migrate] one",
        "  [migrate] caf\ufffd",
        "  [migrate] two",
    ]
    assert result.output == "one\ncaf\ufffd\ntwo\n"


def test_command_timeout_stops_the_whole_group(tmp_path: Path) -> None:
    grandchild = tmp_path / "grandchild.pid"
    started = time.monotonic()
    result = run_command(
        context(command_timeout=1),
        f"sleep 60 & echo $! > {grandchild}; sleep 60",
        dict(os.environ),
        label="migrate",
        echo=None,
    )
    pid = int(wait_for(grandchild))
    try:
        assert result.timed_out and result.limit_name == "--command-timeout"
        assert gone(pid)
        assert time.monotonic() - started < 30
    finally:
        kill_quietly(pid)


def test_the_stricter_timeout_names_itself(tmp_path: Path) -> None:
    result = run_command(
        context(command_timeout=30), "sleep 30", dict(os.environ), label="smoke", timeout=1
    )
    assert result.timed_out and result.limit_name == "check.command_timeout"
    assert result.seconds < 20


def test_hide_hides_the_terminal_but_the_log_keeps_everything(tmp_path: Path) -> None:
    shown = io.StringIO()
    log = tmp_path / "reports" / "migrate.log"
    result = run_command(
        context(hide="both"),
        "for i in $(seq 1 20); do echo line $i; done",
        dict(os.environ),
        label="migrate",
        echo=shown,
        fold=Fold(log),
    )
    assert result.ok
    assert shown.getvalue() == ""
    assert log.read_text().splitlines() == [f"line {i}" for i in range(1, 21)]
    assert log.stat().st_mode & 0o777 == 0o600


def test_fold_shows_head_and_tail(tmp_path: Path) -> None:
    shown = io.StringIO()
    log = tmp_path / "migrate.log"
    run_command(
        context(),
        "for i in $(seq 1 20); do echo line $i; done",
        dict(os.environ),
        label="migrate",
        echo=shown,
        fold=Fold(log, head=2, tail=2),
    )
    assert shown.getvalue().splitlines() == [
        "  [migrate] line 1",
        "  [migrate] line 2",
        "  [migrate] ... (16 lines not shown)",
        "  [migrate] line 19",
        "  [migrate] line 20",
        f"  [migrate] 20 lines, whole output in {log}",
    ]


def test_a_mock_context_stands_in_for_the_command() -> None:
    mock = MockContext(run={"python migrate.py": Result("applied 3\n", exited=0)})
    result = run_command(mock, "python migrate.py", {}, label="migrate", echo=None)
    assert result.ok and result.output == "applied 3\n"


def test_ctrl_c_stops_the_command_group_and_goes_on(tmp_path: Path) -> None:
    """Invoke's own runner would write ^C to stdin and keep waiting; ours stops the group."""
    grandchild = tmp_path / "grandchild.pid"
    code = (
        "import os, signal\n"
        "from prodclone.local.appcmd import app_context, run_command\n"
        "from prodclone.proc.runner import GroupRunner\n"
        "GroupRunner.stop_grace = 1.0  # as QuickStop above\n"
        "def interrupt(*args):\n"
        "    raise KeyboardInterrupt\n"
        "signal.signal(signal.SIGALRM, interrupt)\n"
        "signal.alarm(2)\n"
        "try:\n"
        f"    run_command(app_context(), 'sleep 60 & echo $! > {grandchild}; sleep 60',\n"
        "                dict(os.environ), label='migrate', echo=None)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    pid = int(wait_for(grandchild))
    try:
        assert done.stdout.strip() == "interrupted", done.stderr
        assert gone(pid)
        assert time.monotonic() - started < 30
    finally:
        kill_quietly(pid)


def test_an_app_command_never_sees_the_mask_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secret is prodclone's: an app's migrate command could log its environment."""
    monkeypatch.setenv("INVOKE_PRODCLONE_MASK_SECRET", "s3cret-for-masking")
    result = run_command(
        context(),
        "env; echo done",
        dict(os.environ),  # what app_env starts from: this process's environment
        label="migrate",
        echo=None,
    )
    assert result.ok and "done" in result.output
    assert "s3cret-for-masking" not in result.output
    assert "INVOKE_PRODCLONE_MASK_SECRET" not in result.output
