"""Zero findings on the real schemas at hand: Danbooru and the example app after its migrations."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from prodclone.local.server import LocalServer
from prodclone.references.render import render_text
from tests.check.conftest import ORCHA
from tests.references.helpers import check
from tests.schema.helpers import databases
from tests.schema.test_real_schema import STRUCTURE, _without_pgcrypto


@pytest.mark.skipif(not STRUCTURE.exists(), reason="the shared Danbooru schema is absent")
def test_danbooru_has_no_broken_reference(
    pg: LocalServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with databases(pg, "refs") as dbs:
        name = dbs.load_files("danbooru", _without_pgcrypto(tmp_path_factory.mktemp("dan")))
        report = check(pg, name)
    assert report.functions > 0
    assert (report.findings, report.not_checked) == ([], []), render_text(report)


@pytest.mark.parametrize("pending", ["none", "corrected"])
def test_example_app_after_its_migrations_has_no_broken_reference(
    pg: LocalServer, pending: str
) -> None:
    with databases(pg, "refs") as dbs:
        name = dbs.create(label="orcha")
        _migrate(pg, name, pending)
        report = check(pg, name)
    assert report.plpgsql >= 1
    assert (report.findings, report.not_checked) == ([], []), render_text(report)


def _migrate(pg: LocalServer, name: str, pending: str) -> None:
    env = {**os.environ, "DATABASE_URL": pg.url(name)}
    done = subprocess.run(
        [sys.executable, str(ORCHA / "migrate.py"), "--pending", pending],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
