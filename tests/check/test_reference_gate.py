"""The reference gate inside refactor-check: production's older breakage does not fail it."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

from psycopg import sql

from prodclone.local.server import LocalServer
from prodclone.pg.tools import find_tool
from tests.check.conftest import CheckProject
from tests.conftest import dedent, run_sql

OLDER_BREAKAGE = dedent(
    """
    CREATE FUNCTION legacy_report() RETURNS bigint LANGUAGE plpgsql AS $$
    BEGIN
        RETURN (SELECT count(*) FROM invoices_2019);
    END;
    $$;
    """
)


def dump_with(pg: LocalServer, source: Path, target: Path, statements: str) -> None:
    """`source` restored, `statements` run on it, dumped again to `target`."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    with pg.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        env = {**os.environ, **pg.libpq_env(name)}
        major = pg.major_version()
        restore = find_tool("pg_restore", major, pg.extra_bin_dirs)
        subprocess.run([str(restore.path), "-d", name, str(source)], env=env, check=True)
        run_sql(pg, name, statements)
        dump = find_tool("pg_dump", major, pg.extra_bin_dirs)
        subprocess.run(
            [str(dump.path), "--format=custom", "--file", str(target)], env=env, check=True
        )
    finally:
        with pg.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_breakage_production_already_had_is_listed_and_does_not_fail(
    checker: CheckProject, pg: LocalServer, tmp_path: Path
) -> None:
    dump = tmp_path / "prod-20260101T000000Z.dump"
    dump_with(pg, checker.dump, dump, OLDER_BREAKAGE)
    checker.configure()
    result = checker.check("--skip-smoke", "--keep-going", dump=dump)
    # The schema gate sees the function only production has; the reference gate passes.
    assert result.json["failed_stages"] == ["schema"], result.output
    references = result.stage("references")
    assert references["status"] == "passed"
    assert "0 broken reference(s); 1 older one(s) production already had" in (references["summary"])
    assert (
        '  public.legacy_report() line 3: relation "invoices_2019" does not exist'
        in (references["details"])
    )
    assert "Broken before the migration too (production's own, not failing):" in result.markdown
