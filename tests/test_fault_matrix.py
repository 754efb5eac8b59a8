"""The fault matrix: SIGINT, SIGTERM, SIGHUP and SIGKILL at each step of the local tasks.

Each case runs a real `inv` task with the test-only pause hook (PRODCLONE_TEST_FAULT,
see prodclone.faults) at one named step, sends the signal once the task says it
is there, and then runs the same task again, as a user would. After a catchable
signal the task must exit 130 having left the clone whole (and, for refactor-check,
its report saying where it stopped, the app stopped and its port free); after
SIGKILL nothing is promised until the next run. The next run must succeed and
leave the clone whole (the dump's rows), no database of ours but the clone, its
template and the fresh build, no unmarked one, no app process and the port free.

The project is tiny on purpose (two tables, a psql migration, Python's http.server
as the app): the whole matrix takes a couple of minutes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from prodclone.faults import TEST_FAULT_ENV
from prodclone.local.copies import background_idle
from prodclone.local.server import LocalServer
from prodclone.pg import databases
from tests.conftest import Project
from tests.local.test_load_clone import make_dump

SIGNALS = {
    "SIGINT": signal.SIGINT,
    "SIGTERM": signal.SIGTERM,
    "SIGHUP": signal.SIGHUP,
    "SIGKILL": signal.SIGKILL,
}
CATCHABLE = ("SIGINT", "SIGTERM", "SIGHUP")

# The migrations, from nothing: the dump's schema, then the pending change (a new column).
MIGRATE_SQL = """
DO $$ BEGIN CREATE TYPE status AS ENUM ('new', 'done');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE TABLE IF NOT EXISTS customer (
    id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, state status);
CREATE TABLE IF NOT EXISTS orders (
    id bigserial PRIMARY KEY, customer_id bigint REFERENCES customer, total numeric(10,2));
ALTER TABLE customer ADD COLUMN IF NOT EXISTS note text;
"""

# The app: Python's own web server, its pid written where the test finds it.
SERVE = "echo $$ > {pid}; exec {python} -m http.server {port} --bind 127.0.0.1"
SMOKE = "{python} -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/')\""

# The steps, by task: the hook's name for each (prodclone.faults.checkpoint calls).
LOAD_RESTORE = (
    "database-created",  # CREATE DATABASE done, its prodclone mark not yet written
    "load-restoring",  # the staging database made, pg_restore not yet started
    "load-restored",  # restored, not yet the template
    "load-swapped",  # the new clone in place, the old one not yet dropped
)
# A reset copies the template: its own creation, then the swap both paths share.
LOAD_RESET = (
    "database-created",
    "load-staged",  # the new copy made, not yet swapped in
    "load-swapping",  # between the swap's two renames
)
FRESH = ("database-created", "fresh-migrated", "fresh-restored")
CHECK = (
    "check-reset",
    "check-boot",
    "check-baseline",
    "check-migrate",
    "check-data",
    "check-fresh",
    "check-schema",
    "check-smoke",
    "check-app-ready",  # the app up and serving, the smoke commands not yet run
)
TASKS = {
    "load-restore": (("db.load-clone", "--restore"), LOAD_RESTORE),
    "load-reset": (("db.load-clone",), LOAD_RESET),
    "fresh": (("db.fresh",), FRESH),
    "refactor-check": (("refactor-check",), CHECK),
}
NEXT = {"load-restore": ("db.load-clone",)}
# Which (step, signal) pairs run. SIGINT, SIGTERM and SIGHUP reach one handler
# (prodclone.signals.CLEANUP_SIGNALS), and SIGKILL between two stages leaves what it
# leaves at any other such point; so by default every step gets one of the three in
# turn, every step where something is half made or running gets SIGKILL, and the
# steps where the signals could differ (a database created but not yet marked, the
# swap, the app up) get all four: the matrix stays a few minutes on a busy machine.
# PRODCLONE_FAULT_MATRIX=full runs every pair.
FULL = os.environ.get("PRODCLONE_FAULT_MATRIX") == "full"
ALL_FOUR = {"database-created", "load-swapping", "check-app-ready"}
NOTHING_IN_FLIGHT = {"check-boot", "check-baseline", "check-data", "check-schema", "check-smoke"}


def signals_for(step: str, turn: int) -> tuple[str, ...]:
    if FULL or step in ALL_FOUR:
        return tuple(SIGNALS)
    catchable = CATCHABLE[turn % len(CATCHABLE)]
    return (catchable,) if step in NOTHING_IN_FLIGHT else (catchable, "SIGKILL")


def cases() -> Iterator[object]:
    turn = 0
    for task, (_, steps) in TASKS.items():
        for step in steps:
            turn += 1
            for name in signals_for(step, turn):
                yield pytest.param(task, step, name, id=f"{task}-{step}-{name}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Matrix:
    """One project and one clone for every case; each case starts from a loaded clone."""

    def __init__(self, project: Project, pg: LocalServer) -> None:
        self.project = project
        self.pg = pg
        self.app = f"fm_{uuid.uuid4().hex[:8]}"
        self.clone = f"{self.app}_prod_clone"
        self.fresh = f"{self.app}_fresh"
        self.port = free_port()
        self.app_pid = project.root / "app.pid"
        self.report = project.root / "report"
        (project.root / "migrate.sql").write_text(MIGRATE_SQL)
        self.dump = make_dump(pg, project.root / "dump")
        python = sys.executable
        project.configure(
            {
                "app": self.app,
                # One restore job: the dump is tiny, and each job is a process and a connection.
                "local": {"keep_spare": False, "restore_jobs": 1},
                "commands": {
                    "migrate": "psql -q -v ON_ERROR_STOP=1 -f migrate.sql",
                    "fresh_inputs": ["migrate.sql"],
                    "boot": "psql -q -c 'SELECT 1'",
                    "serve": SERVE.format(pid=self.app_pid, python=python, port=self.port),
                    "smoke": [SMOKE.format(python=python, port=self.port)],
                },
                "check": {"serve_ready_port": self.port, "serve_timeout": 20, "log_patterns": []},
            }
        )
        loaded = self.inv("db.load-clone")
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        self.rows = self.fingerprint()

    def inv(self, *args: str) -> subprocess.CompletedProcess[str]:
        if args[0] == "refactor-check":
            args = (*args, "--report", str(self.report))
        return self.project.inv(*args, timeout=120)

    def next_run(
        self, request: pytest.FixtureRequest, *args: str
    ) -> subprocess.CompletedProcess[str]:
        """The run after an interrupted one: ordinary, so in the test process."""
        if args[0] == "refactor-check":
            args = (*args, "--report", str(self.report))
        # The module's project, with this test's output capture for the run.
        self.project.request = request
        try:
            return self.project.run(*args)
        finally:
            self.project.request = None

    def interrupted(self, args: tuple[str, ...], step: str, signum: int) -> tuple[int, str]:
        """Run `inv ARGS` paused at `step`, send `signum` there, return (exit code, output)."""
        if args[0] == "refactor-check":
            args = (*args, "--report", str(self.report))
        process = subprocess.Popen(
            [sys.executable, "-m", "invoke", *args],
            cwd=self.project.root,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", TEST_FAULT_ENV: f"{step}:pause"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: list[str] = []
        there = threading.Event()

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if line.startswith(f"test hook: pause at {step}"):
                    there.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            reached = there.wait(timeout=60)
            assert reached, f"never reached {step}:\n{''.join(lines)}"
            process.send_signal(signum)
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        reader.join(timeout=10)
        return process.returncode, "".join(lines)

    def fingerprint(self) -> tuple[object, ...]:
        """The dump's rows in the columns it has (a migration may add more)."""
        with psycopg.connect(self.pg.url(self.clone)) as conn:
            return tuple(
                conn.execute(
                    f"SELECT count(*), md5(string_agg(({columns})::text, ',' ORDER BY id)) "
                    f"FROM {table}"
                ).fetchone()
                for table, columns in (
                    ("customer", "id, email, state"),
                    ("orders", "id, customer_id, total"),
                )
            )

    def ours(self) -> list[databases.DatabaseInfo]:
        with background_idle(self.project.data_dir):  # retired copies are dropped there
            pass
        with self.pg.connect() as conn:
            return [db for db in databases.list_databases(conn) if db.name.startswith(self.app)]

    def assert_nothing_left(self) -> None:
        left = {db.name: (db.ours, db.role) for db in self.ours()}
        allowed = {"clone", "template", "fresh"}
        strays = {name: state for name, state in left.items() if state[1] not in allowed}
        assert strays == {}, f"left behind: {strays}"
        assert left.get(self.clone) == (True, "clone")
        if self.app_pid.exists():
            assert not alive(int(self.app_pid.read_text())), "the app is still running"
        assert not port_answers(self.port), f"port {self.port} still answers"


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory, pg_data_dir: Path, pg: LocalServer) -> Matrix:
    return Matrix(Project(tmp_path_factory.mktemp("fault-matrix"), pg_data_dir), pg)


@pytest.mark.parametrize(("task", "step", "name"), list(cases()))
def test_signal_at_each_step_then_the_next_run(
    matrix: Matrix, task: str, step: str, name: str, request: pytest.FixtureRequest
) -> None:
    args, _ = TASKS[task]
    with contextlib.suppress(FileNotFoundError):
        matrix.app_pid.unlink()
    check_case(matrix, request, args, task, step, name)


def check_case(
    matrix: Matrix,
    request: pytest.FixtureRequest,
    args: tuple[str, ...],
    task: str,
    step: str,
    name: str,
) -> None:
    code, output = matrix.interrupted(args, step, SIGNALS[name])

    if name in CATCHABLE:
        assert code == 130, output
        assert "prodclone: interrupted" in output
        # Whatever the step, an interrupted command leaves a clone to work on.
        assert matrix.fingerprint() == matrix.rows, output
        if task == "refactor-check":
            assert_interrupted_report(matrix, step, name)
            if matrix.app_pid.exists():
                assert not alive(int(matrix.app_pid.read_text())), "the app outlived the run"
            assert not port_answers(matrix.port)
    else:
        assert code == -signal.SIGKILL, output

    # The next ordinary run: what a user types next (a plain load after a full restore).
    again = matrix.next_run(request, *NEXT.get(task, args))
    assert again.returncode == 0, again.stdout + again.stderr
    if task == "refactor-check":
        assert json.loads((matrix.report / "report.json").read_text())["passed"] is True
    assert matrix.fingerprint() == matrix.rows
    matrix.assert_nothing_left()


def assert_interrupted_report(matrix: Matrix, step: str, name: str) -> None:
    report = json.loads((matrix.report / "report.json").read_text())
    stage = step.removeprefix("check-")
    stage = "smoke" if stage == "app-ready" else stage
    assert report["interrupted_at"] == stage
    status = {item["key"]: item for item in report["stages"]}[stage]
    assert status["status"] == "interrupted"
    shown = "Ctrl-C" if name == "SIGINT" else name
    assert status["summary"] == f"interrupted ({shown}); the clone was left as it was"
    assert (matrix.report / "report.md").stat().st_mode & 0o777 == 0o600
