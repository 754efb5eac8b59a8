"""What app commands are given to find their database: a URL their own tools can take."""

from __future__ import annotations

import psycopg

from prodclone.local.server import LocalServer
from tests.conftest import Project

# The way Alembic's env.py commonly hands the URL to its configparser-backed config, where
# a `%` (a percent-encoded socket folder) is interpolation syntax and raises.
ALEMBIC_STYLE = """\
import configparser, os, psycopg
config = configparser.ConfigParser()
config["alembic"] = {}
config.set("alembic", "sqlalchemy.url", os.environ["DATABASE_URL"])
with psycopg.connect(config.get("alembic", "sqlalchemy.url")) as conn:
    conn.execute("CREATE TABLE migrated (id int PRIMARY KEY)")
"""


def test_database_url_goes_through_configparser_unharmed(project: Project, pg: LocalServer) -> None:
    (project.root / "migrate.py").write_text(ALEMBIC_STYLE)
    project.configure({"app": "alembicish", "commands": {"migrate": "python migrate.py"}})
    try:
        built = project.run("db.fresh")
        assert built.returncode == 0, built.stdout + built.stderr
        with psycopg.connect(pg.url("alembicish_fresh")) as conn:
            assert conn.execute("SELECT to_regclass('migrated') IS NOT NULL").fetchone() == (True,)
    finally:
        project.run("db.drop-clone", "--yes", "--fresh")
