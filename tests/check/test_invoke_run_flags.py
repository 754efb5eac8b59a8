"""App commands run through Invoke's `c.run`: its own flags apply to them."""

from __future__ import annotations

import json
import time

from tests.check.conftest import CheckProject, kill_quietly, pid_in, process_gone, script

ECHO_END = "\x1b[0m"  # Invoke's default echo_format ends with a reset


def test_echo_shows_the_migrate_command(checker: CheckProject) -> None:
    migrate = script("migrate.py", "--pending", "corrected")
    checker.configure(commands={"migrate": migrate})
    report = checker.root / "report"
    done = checker.project.inv(
        "--echo", "refactor-check", "--skip-smoke", "--dump", str(checker.dump),
        "--report", str(report),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    echoed = [line for line in done.stdout.splitlines() if line.endswith(f"{migrate}{ECHO_END}")]
    # Once on the clone, once for the fresh build.
    assert len(echoed) == 2, done.stdout


def test_command_timeout_stops_a_hanging_migrate_and_its_group(checker: CheckProject) -> None:
    leader, grandchild = checker.root / "leader.pid", checker.root / "grandchild.pid"
    hang = f"sleep 300 & echo $! > {grandchild}; echo $$ > {leader}; sleep 300"
    checker.configure(commands={"migrate": hang, "boot": ""})
    report = checker.root / "report"
    started = time.monotonic()
    try:
        done = checker.project.inv(
            "--command-timeout", "2", "refactor-check", "--skip-smoke", "--dump",
            str(checker.dump), "--report", str(report), timeout=150,
        )  # fmt: skip
        assert done.returncode == 1, done.stdout + done.stderr
        stage = next(s for s in json.loads((report / "report.json").read_text())["stages"]
                     if s["key"] == "migrate")  # fmt: skip
        assert stage["status"] == "failed"
        assert "did not finish within" in stage["summary"]
        assert "(--command-timeout)" in stage["summary"]
        assert process_gone(pid_in(leader))
        assert process_gone(pid_in(grandchild))
        assert time.monotonic() - started < 120
    finally:
        for pidfile in (leader, grandchild):
            if pidfile.exists():
                kill_quietly(pid_in(pidfile))
