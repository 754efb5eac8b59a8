"""Fixtures for refactor-check: a drifted orcha "production" dump, and projects that use it."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from demo.run import build_prod_dump, demo_settings, example_dir
from prodclone.local.server import LocalServer
from prodclone.settings import load_settings
from prodclone.tasks._values import check_setup_of
from tests.conftest import Project

ORCHA = Path(__file__).resolve().parents[2] / "examples" / "orcha"
# Small, but every table has rows: the checks behave as on a big one.
DUMP_ROWS = 3000


def script(name: str, *args: str) -> str:
    """A shell command running an orcha script with this interpreter."""
    return " ".join(shlex.quote(part) for part in (sys.executable, str(ORCHA / name), *args))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def orcha_dump(
    pg: LocalServer, pg_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A drifted production stand-in, dumped as db.clone-prod would (built once)."""
    folder = tmp_path_factory.mktemp("orcha-dump")
    settings = load_settings(
        {"prodclone": {"local": {"data_dir": str(pg_data_dir)}, "dump_dir": str(folder)}},
        folder,
    )
    setup = check_setup_of(settings)
    plan = demo_settings(setup, settings.local, example_dir(), datetime.now(UTC))
    with open(os.devnull, "w") as quiet:
        return build_prod_dump(plan, pg, DUMP_ROWS, Console(file=quiet))


# A project's own tasks.py giving the app's group two seconds, not five, after SIGINT and
# again after SIGTERM: a GroupRunner subclass as Invoke's runners.local (see
# docs/architecture.md), for the tests of apps that ignore those signals.
QUICK_STOP_TASKS = """\
from prodclone.proc.runner import GroupRunner
from prodclone.tasks import ns


class QuickStop(GroupRunner):
    stop_grace = 2.0


ns.configure({"runners": {"local": QuickStop}})
"""


class CheckProject:
    """A user project whose invoke.yaml points prodclone at orcha and the shared dump."""

    def __init__(self, project: Project, dump: Path) -> None:
        self.project = project
        self.dump = dump
        self.root = project.root
        self.port = free_port()
        self.reports = project.root / "reports"

    def configure(self, **overrides: Any) -> None:
        """orcha's settings (the corrected rename), with `overrides` per section."""
        block: dict[str, Any] = {
            "app": "orcha",
            "local": {
                "data_dir": str(self.project.data_dir),
                "keep_spare": False,
                "db_env": {
                    "ORCHA_LOCAL_DB_NAME_OVERRIDE": "{db}",
                    "ORCHA_HTTP_PORT": str(self.port),
                    "ORCHA_EXTRA_MIGRATIONS": str(self.root / "more-migrations"),
                },
            },
            "commands": {
                "migrate": script("migrate.py", "--pending", "corrected"),
                "boot": script("app.py", "boot"),
                "serve": script("app.py", "serve"),
                "smoke": [
                    script("app.py", "ingest", str(ORCHA / "fixtures" / "invoice-1.json")),
                    script("app.py", "ingest", str(ORCHA / "fixtures" / "invoice-2.json")),
                ],
            },
            "check": {
                "expected_data_changes": ["_yoyo_migration", "_yoyo_log"],
                "serve_ready_line": "orcha listening on",
                "serve_timeout": 30,
            },
        }
        for section, values in overrides.items():
            if isinstance(values, dict) and isinstance(block.get(section), dict):
                block[section] = {**block[section], **values}
            else:
                block[section] = values
        self.project.configure(block)

    def quick_stop(self) -> None:
        """The app's group gets two seconds after each signal (QUICK_STOP_TASKS).

        For a real `inv` only (`check_interrupted_when`): run in the test process, the
        tasks.py would configure the `ns` every later in-process run shares.
        """
        (self.root / "tasks.py").write_text(QUICK_STOP_TASKS)

    def add_migration(self, name: str, sql: str) -> None:
        """One more migration after orcha's own (both the clone and fresh get it)."""
        folder = self.root / "more-migrations"
        folder.mkdir(exist_ok=True)
        (folder / name).write_text(sql)

    def check(self, *args: str, report: Path | None = None, dump: Path | None = None) -> Result:
        report = report or self.root / "report"
        done = self.project.run(
            "refactor-check", "--dump", str(dump or self.dump), "--report", str(report), *args
        )
        return Result(done.returncode, done.stdout + done.stderr, report)

    def check_interrupted_when(self, *triggers: Path) -> Result:
        """Run refactor-check, press Ctrl-C as each trigger file appears, wait for the end."""
        report = self.root / "report"
        flags = ["--dump", str(self.dump), "--report", str(report)]
        process = subprocess.Popen(
            [sys.executable, "-m", "invoke", "refactor-check", *flags],
            cwd=self.root,
            env={**os.environ, "NO_COLOR": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            for trigger in triggers:
                while not trigger.exists() and process.poll() is None:
                    time.sleep(0.1)
                process.send_signal(signal.SIGINT)
            output, _ = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
        return Result(process.returncode, output, report)


class Result:
    def __init__(self, code: int, output: str, report: Path) -> None:
        self.code = code
        self.output = output
        self.report = report

    @property
    def json(self) -> dict[str, Any]:
        return json.loads((self.report / "report.json").read_text())  # type: ignore[no-any-return]

    @property
    def markdown(self) -> str:
        return (self.report / "report.md").read_text()

    @property
    def junit(self) -> str:
        return (self.report / "junit.xml").read_text()

    def stage(self, key: str) -> dict[str, Any]:
        return next(stage for stage in self.json["stages"] if stage["key"] == key)


@pytest.fixture
def checker(project: Project, orcha_dump: Path) -> Iterator[CheckProject]:
    yield CheckProject(project, orcha_dump)


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0); it is gone for every practical purpose.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state == "Z"


def pid_in(path: Path) -> int:
    return int(path.read_text().strip())


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
