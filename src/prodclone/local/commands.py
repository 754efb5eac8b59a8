"""The app's own commands and how they are pointed at a database: built once by a task."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from prodclone.errors import SettingsError
from prodclone.local.server import LocalServer, app_env


@dataclass(frozen=True)
class AppCommands:
    """Shell commands run in `folder` (the project folder); empty ones are not set.

    `db_env` maps the app's own variables to templates of `{db}` and `{url}`;
    `fresh_inputs` are globs inside `folder` whose content decides whether a fresh
    build can be reused.
    """

    folder: Path
    migrate: str = ""
    boot: str = ""
    serve: str = ""
    smoke: tuple[str, ...] = ()
    fresh_inputs: tuple[str, ...] = ()
    db_env: Mapping[str, str] = field(default_factory=dict, hash=False)

    def require_migrate(self) -> str:
        if not self.migrate:
            raise SettingsError(
                "prodclone.commands.migrate is not set: it must name the shell command that "
                "migrates the database it is pointed at (DATABASE_URL); set it in invoke.yaml "
                "or with INVOKE_PRODCLONE_COMMANDS_MIGRATE"
            )
        return self.migrate

    def env(self, server: LocalServer, dbname: str) -> dict[str, str]:
        """The environment for one of these commands aimed at `dbname` on `server`."""
        return app_env(server, dbname, dict(self.db_env))
