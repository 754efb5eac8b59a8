"""The roles a dump names, read by PostgreSQL's grammar from what pg_restore 15 and 18 print."""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from prodclone.local.embedded import bin_dir
from prodclone.local.roles import roles_in_dump, roles_in_script
from prodclone.local.server import LocalServer
from prodclone.pg.tools import ClientTool
from tests.conftest import run_sql
from tests.schema.older_server import older_bin_dir, older_server

ROLES_SQL = """
CREATE ROLE "Prod Owner";
CREATE ROLE reader;
CREATE ROLE viewer;
CREATE ROLE "odd""name";
CREATE TABLE customer (id int, email text);
ALTER TABLE customer OWNER TO "Prod Owner";
GRANT SELECT ON customer TO reader, "odd""name";
ALTER TABLE customer ENABLE ROW LEVEL SECURITY;
CREATE POLICY shown ON customer TO viewer USING (email <> 'GO TO market');
CREATE POLICY multi ON customer USING (email <> 'x
GO TO shop');
CREATE FUNCTION note() RETURNS text LANGUAGE sql AS $f$SELECT '
\\restrict x
GRANT ALL ON customer TO body'$f$;
"""
EXPECTED = {"postgres", "Prod Owner", "reader", "viewer", 'odd"name'}


@pytest.fixture(scope="module")
def pg15_dump(pg: LocalServer) -> Iterator[tuple[Path, Path]]:
    """A dump made by an older server's own pg_dump, and that version's bin folder."""
    old_bin = older_bin_dir(pg.major_version())
    if old_bin is None:
        pytest.skip("no older PostgreSQL server in /usr/lib/postgresql")
    with (
        tempfile.TemporaryDirectory(prefix="prodclone-roles-") as tmp,
        tempfile.TemporaryDirectory(prefix="prodclone-roles-dump-") as dump_dir,
    ):
        with older_server(old_bin, Path(tmp)) as old:
            with old.connect() as conn:
                conn.execute("CREATE DATABASE shop")
            run_sql(old, "shop", ROLES_SQL)
            dump = Path(dump_dir) / "old.dump"
            subprocess.run(
                [str(old_bin / "pg_dump"), "-Fc", "-f", str(dump), old.url("shop")], check=True
            )
        yield dump, old_bin


def tool(folder: Path) -> ClientTool:
    """That folder's pg_restore, whatever its version (the tool chooser would pick the newest)."""
    version = subprocess.run(
        [str(folder / "pg_restore"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"\(PostgreSQL\) (\d+)", version)
    assert match, version
    major = int(match.group(1))
    return ClientTool(folder / "pg_restore", major, 0)


def test_older_dump_read_by_old_and_new_pg_restore(pg15_dump: tuple[Path, Path]) -> None:
    dump, old_bin = pg15_dump
    for folder in (old_bin, bin_dir()):
        assert roles_in_dump(dump, tool(folder)) == EXPECTED, folder


def test_a_statement_the_grammar_does_not_know_hides_no_other_role() -> None:
    found, unreadable = roles_in_script(
        "ALTER TABLE a OWNER TO alice;\nFUTURE SYNTAX x TO mallory;\nGRANT SELECT ON b TO bob;\n"
    )
    assert (found, unreadable) == ({"alice", "bob"}, 1)
