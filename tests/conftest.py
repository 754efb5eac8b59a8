"""Shared fixtures: one real embedded PostgreSQL server for the whole run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from prodclone.local.embedded import EmbeddedServer
from prodclone.local.server import LocalServer, resolve_server
from prodclone.settings import load_settings
from tests.scratch import ScratchDatabases

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


# The modules that take longest in all (pytest --durations), whatever their number of
# tests. With two workers each taking whole modules, one of these handed out last would
# keep one worker busy long after the other has run out of work: they go out first.
LONGEST_FIRST = (
    "tests/test_fault_matrix.py",
    "tests/check/test_refactor_check.py",
    "tests/aws/test_faults.py",
    "tests/aws/test_aurora.py",
    "tests/local/test_survival.py",
    "tests/schema/test_conformance.py",
    "tests/check/test_demo.py",
    "tests/check/test_django.py",
    "tests/local/test_load_clone.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order


@pytest.fixture(scope="session")
def pg_data_dir() -> Iterator[Path]:
    """The data folder of the embedded server the whole test run shares.

    Outside pytest's temp folders: pytest prunes old ones when another run starts,
    which would pull the data from under a server that is still running.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="prodclone-test-"))
    try:
        yield data_dir
    finally:
        EmbeddedServer(data_dir).stop(discard=True)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg(pg_data_dir: Path) -> LocalServer:
    """The running embedded server."""
    settings = load_settings({"prodclone": {"local": {"data_dir": str(pg_data_dir)}}})
    return resolve_server(settings.local)


@pytest.fixture
def scratch_db(pg: LocalServer) -> Iterator[ScratchDatabases]:
    """Scratch databases on the shared server (`scratch_db.create(...)`), all dropped after."""
    made = ScratchDatabases(pg)
    try:
        yield made
    finally:
        made.drop_all()


@pytest.fixture
def fresh_db(scratch_db: ScratchDatabases) -> str:
    """A uniquely named empty database, dropped afterwards."""
    return scratch_db.create("t")


def run_sql(pg: LocalServer, dbname: str, statements: str) -> None:
    with psycopg.connect(pg.url(dbname), autocommit=True) as conn:
        conn.execute(statements)


class Project:
    """A user's project folder: tasks.py + invoke.yaml, run with `inv`.

    `inv` starts the real command as a subprocess; `run` runs the same program with
    the same argv inside the test process (tests/cli.py), for tests that only look at
    output, exit codes and database state. `request` (the test's) gives `run` its
    output capture.
    """

    def __init__(
        self, root: Path, data_dir: Path, request: pytest.FixtureRequest | None = None
    ) -> None:
        self.root = root
        self.data_dir = data_dir
        self.request = request
        (root / "tasks.py").write_text("from prodclone.tasks import ns\n")
        self.configure({})

    def configure(self, prodclone: dict[str, Any]) -> None:
        import json

        block = {"app": "shop", "local": {"data_dir": str(self.data_dir)}}
        for key, value in prodclone.items():
            if isinstance(value, dict) and isinstance(block.get(key), dict):
                block[key] = {**block[key], **value}  # type: ignore[dict-item]
            else:
                block[key] = value
        # JSON is valid YAML, and keeps the test free of a YAML writer.
        (self.root / "invoke.yaml").write_text(json.dumps({"prodclone": block}, indent=2))

    def inv(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=self.root,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        """`inv ARGS` in this process: what `inv` returns, without the interpreter start-up.

        `timeout` is pytest-timeout's here (a run cannot be killed from inside).
        """
        from tests.cli import run_in_process

        if self.request is None:
            raise RuntimeError("Project(..., request=request) is needed to run in-process")
        capfd = self.request.getfixturevalue("capfd")
        return run_in_process(
            capfd, self.root, args, {"NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
        )


@pytest.fixture
def project(
    tmp_path: Path, pg_data_dir: Path, pg: LocalServer, request: pytest.FixtureRequest
) -> Project:
    return Project(tmp_path, pg_data_dir, request)


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temp folder others may pass through (0755), unlike pytest's (0700).

    Run as root, the embedded server runs as its own system user, which must reach
    a data folder inside: prodclone refuses rather than open closed folders.
    """
    folder = Path(tempfile.mkdtemp(prefix="prodclone-open-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def dedent(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"
