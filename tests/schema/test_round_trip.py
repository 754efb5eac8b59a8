"""A rich schema, dumped with pg_dump and loaded by `inv db.load-clone`, diffs clean."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

from prodclone.local.server import LocalServer
from prodclone.pg.tools import find_tool
from tests.conftest import Project
from tests.schema.helpers import Databases

# Every kind the comparison models, plus two it does not.
RICH_SCHEMA = Path(__file__).with_name("rich_schema.sql")


def test_every_kind_survives_pg_dump_and_load_clone(
    project: Project, pg: LocalServer, dbs: Databases
) -> None:
    original = dbs.create(RICH_SCHEMA.read_text(), "rich")
    app = f"rt_{uuid.uuid4().hex[:8]}"
    project.configure({"app": app, "local": {"keep_spare": False}})
    dump_dir = project.root / "dump"
    dump_dir.mkdir(mode=0o700)
    pg_dump = find_tool("pg_dump", pg.major_version(), pg.extra_bin_dirs)
    subprocess.run(
        [str(pg_dump), "-Fc", "-f", str(dump_dir / "prod-20260101T000000Z.dump")],
        env={**os.environ, **pg.libpq_env(original)},
        check=True,
    )
    loaded = project.run("db.load-clone")
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    try:
        done = project.run(
            "db.schema-diff", "-a", f"{app}_prod_clone", "-b", original, "--format", "json"
        )
        assert done.returncode == 0, done.stdout + done.stderr
        document = json.loads(done.stdout)
        assert document["differences"] == [] and document["hidden"] == []
        assert document["coverage"]["not_modelled"] == [
            "app.simple2 (text search configuration)",
            "app.st (statistics object)",
        ]
        empty = [kind for kind, count in document["coverage"]["kinds"].items() if not count["a"]]
        assert empty == []
    finally:
        dropped = project.run("db.drop-clone", "--yes")
        assert dropped.returncode == 0, dropped.stdout + dropped.stderr
