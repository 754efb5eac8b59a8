"""Two refactor-check runs on one clone, and other commands during a run: one at a time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from prodclone.faults import TEST_FAULT_ENV
from prodclone.local.server import LocalServer
from tests.check.conftest import CheckProject, Result, script
from tests.conftest import Project

WAITING = "another prodclone command is working on the local databases (refactor-check, pid "


def start(
    checker: CheckProject, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        cwd=checker.root,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def check_in_background(checker: CheckProject, report: Path, **env: str) -> subprocess.Popen[str]:
    return start(
        checker, "refactor-check", "--dump", str(checker.dump), "--report", str(report), env=env
    )


def finish(process: subprocess.Popen[str], report: Path) -> Result:
    output, _ = process.communicate(timeout=300)
    return Result(process.returncode, output, report)


def test_two_runs_on_one_clone_take_turns_and_each_verdict_is_its_own(
    checker: CheckProject, orcha_dump: Path, pg_data_dir: Path, tmp_path: Path
) -> None:
    """A flawed migration's run and a corrected one's, started together on one clone."""
    checker.configure()
    other_root = tmp_path / "flawed"
    other_root.mkdir()
    flawed = CheckProject(Project(other_root, pg_data_dir), orcha_dump)
    flawed.configure(commands={"migrate": script("migrate.py", "--pending", "flawed")})

    runs = [
        (check_in_background(checker, checker.root / "report"), checker.root / "report"),
        (check_in_background(flawed, flawed.root / "report"), flawed.root / "report"),
    ]
    corrected_run, flawed_run = (finish(process, report) for process, report in runs)

    assert corrected_run.code == 0, corrected_run.output
    assert corrected_run.json["passed"] is True
    assert flawed_run.code == 1, flawed_run.output
    # The reference gate, right after migrate, sees the stale trigger body first.
    assert flawed_run.json["failed_stages"] == ["references"]
    # Whichever came second waited for the first, and said for whom.
    waited = [run for run in (corrected_run, flawed_run) if WAITING in run.output]
    assert len(waited) == 1, corrected_run.output + flawed_run.output
    assert "; refactor-check waits for it (Ctrl-C to give up)" in waited[0].output


def test_load_clone_during_a_check_waits_for_it(checker: CheckProject, pg: LocalServer) -> None:
    """A reset in another terminal must not swap the clone under a running check."""
    checker.configure()
    report = checker.root / "report"
    # The check pauses just before its migrate stage, holding the lock.
    running = check_in_background(checker, report, **{TEST_FAULT_ENV: "check-migrate:slow"})
    assert running.stdout is not None
    seen = ""
    while "test hook: slow at check-migrate" not in seen:
        line = running.stdout.readline()
        assert line, seen
        seen += line
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        oid_before = conn.execute(
            "SELECT oid FROM pg_database WHERE datname = 'orcha_prod_clone'"
        ).fetchone()
    load = checker.project.inv("db.load-clone", "--dump", str(checker.dump))
    # The check writes its report before it lets go of the lock.
    check_was_done = (report / "report.json").exists()
    output, _ = running.communicate(timeout=300)
    result = Result(running.returncode, seen + output, report)

    assert load.returncode == 0, load.stderr
    assert WAITING in load.stderr
    assert "; db.load-clone waits for it (Ctrl-C to give up)" in load.stderr
    assert result.code == 0, result.output
    # The check migrated the clone it reset, not one swapped in under it.
    assert result.stage("migrate")["figures"]["schema_unchanged"] is False
    assert result.json["passed"] is True
    assert check_was_done  # the load could only start once the check was over
    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        oid_after = conn.execute(
            "SELECT oid FROM pg_database WHERE datname = 'orcha_prod_clone'"
        ).fetchone()
    assert oid_after != oid_before  # the load did run, after the check
