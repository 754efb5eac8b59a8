"""db.fresh: a database built from nothing by all of the app's migrations."""

from __future__ import annotations

from prodclone.errors import SettingsError
from prodclone.local import databases
from prodclone.local.appcmd import CommandResult, run_command
from prodclone.local.lock import local_lock
from prodclone.local.roundtrip import round_trip
from prodclone.local.server import LocalServer, app_env
from prodclone.settings import Settings


def require_migrate(settings: Settings) -> str:
    if not settings.commands.migrate:
        raise SettingsError(
            "prodclone.commands.migrate is not set: it must name the shell command that "
            "migrates the database it is pointed at (DATABASE_URL); set it in invoke.yaml "
            "or with INVOKE_PRODCLONE_COMMANDS_MIGRATE"
        )
    return settings.commands.migrate


def build_fresh(settings: Settings, server: LocalServer, name: str | None = None) -> CommandResult:
    """Drop and recreate the fresh database, then run the migrate command against it.

    Returns the command's result (check `.ok`); the database is left as the
    command left it, for a look at what went wrong. When the command succeeds,
    the database is sent through pg_dump and pg_restore, the route the clone took.
    """
    command = require_migrate(settings)
    dbname = name or settings.local.fresh_db
    with local_lock(server, "db.fresh"), server.connect() as conn:
        databases.drop(conn, dbname)
        databases.create(conn, dbname, "fresh")
    env = app_env(server, dbname, settings.local.db_env)
    result = run_command(command, env, label="migrate", cwd=str(settings.project_dir))
    if result.ok:
        round_trip(server, dbname, "fresh", settings.local.restore_jobs)
    return result
