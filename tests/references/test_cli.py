"""inv db.check-references: exit codes, text and JSON, and bad input in one line."""

from __future__ import annotations

import json

from prodclone.local.server import LocalServer
from tests.conftest import Project, dedent, run_sql

STALE = dedent(
    """
    CREATE TABLE accounts (id int PRIMARY KEY, owner_name text);
    CREATE FUNCTION owner_of(account int) RETURNS text LANGUAGE plpgsql AS $$
    BEGIN
        RETURN (SELECT owner_name FROM accounts WHERE id = account);
    END;
    $$;
    ALTER TABLE accounts RENAME COLUMN owner_name TO holder;
    """
)


def test_broken_reference_exits_1_with_the_line(
    project: Project, pg: LocalServer, fresh_db: str
) -> None:
    run_sql(pg, fresh_db, STALE)
    done = project.run("db.check-references", "--db", fresh_db)
    assert done.returncode == 1, done.stderr
    assert '  public.owner_of(account integer) line 3: column "owner_name" does not exist' in (
        done.stdout.splitlines()
    )


def test_json_format_and_a_clean_database_exits_0(
    project: Project, pg: LocalServer, fresh_db: str
) -> None:
    run_sql(pg, fresh_db, STALE + "ALTER TABLE accounts RENAME COLUMN holder TO owner_name;")
    done = project.run("db.check-references", "--db", fresh_db, "--format", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["functions"] == 1 and document["findings"] == []


def test_the_clone_is_the_default_and_a_missing_one_exits_2(project: Project) -> None:
    done = project.run("db.check-references")
    assert done.returncode == 2
    assert done.stderr.startswith("prodclone: cannot connect to the local server")
    assert 'database "shop_prod_clone" does not exist' in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_format_and_bad_url_are_one_line(project: Project) -> None:
    done = project.run("db.check-references", "--format", "xml")
    assert (done.returncode, done.stderr) == (
        2,
        "prodclone: --format must be text or json (got 'xml')\n",
    )
    done = project.run("db.check-references", "--db", "postgresql://me:secret@host:port/db")
    assert done.returncode == 2
    assert done.stderr.startswith("prodclone: --db is not a valid postgresql:// URL")
    assert "secret" not in done.stderr
