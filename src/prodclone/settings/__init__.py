"""The `prodclone` config block, resolved once per task into frozen dataclasses.

Every key is declared in `DEFAULTS` so that Invoke maps `INVOKE_PRODCLONE_...`
env vars onto it; `load_settings` validates the merged block and stops with one
line naming the bad key.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodclone.settings.aws import AWS_DEFAULTS, AwsSettings, parse_aws
from prodclone.settings.check import CHECK_DEFAULTS, CheckSettings, parse_check
from prodclone.settings.local import (
    COMMAND_DEFAULTS,
    LOCAL_DEFAULTS,
    CommandSettings,
    LocalSettings,
    parse_commands,
    parse_local,
)
from prodclone.settings.reader import Reader
from prodclone.settings.schema_diff import (
    SCHEMA_DIFF_DEFAULTS,
    SchemaDiffSettings,
    parse_schema_diff,
)

__all__ = [
    "DEFAULTS",
    "AwsSettings",
    "CheckSettings",
    "CommandSettings",
    "LocalSettings",
    "SchemaDiffSettings",
    "Settings",
    "default_config",
    "load_settings",
]

DEFAULTS: dict[str, Any] = {
    "app": "app",
    "dump_dir": "dump",
    "local": LOCAL_DEFAULTS,
    "commands": COMMAND_DEFAULTS,
    "schema_diff": SCHEMA_DIFF_DEFAULTS,
    "aws": AWS_DEFAULTS,
    "check": CHECK_DEFAULTS,
}

_APP_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,29}$")


def default_config() -> dict[str, Any]:
    """A fresh copy of every declared key, for `Collection.configure`."""
    return {"prodclone": copy.deepcopy(DEFAULTS)}


@dataclass(frozen=True)
class Settings:
    app: str
    project_dir: Path
    dump_dir: Path
    local: LocalSettings
    commands: CommandSettings
    schema_diff: SchemaDiffSettings
    aws: AwsSettings
    check: CheckSettings


def load_settings(config: Mapping[str, Any], project_dir: Path | None = None) -> Settings:
    """Validate `config["prodclone"]`; relative paths are taken from `project_dir`."""
    project = (project_dir or Path.cwd()).resolve()
    root = Reader(config.get("prodclone"), "prodclone")
    app = root.text("app") or "app"
    if not _APP_NAME.match(app):
        raise root.error("app", f"must be lower-case letters, digits and _ (got {app!r})")
    dump_dir = Path(root.text("dump_dir") or "dump").expanduser()
    if not dump_dir.is_absolute():
        dump_dir = project / dump_dir
    return Settings(
        app=app,
        project_dir=project,
        dump_dir=dump_dir,
        local=parse_local(root.section("local"), app, project),
        commands=parse_commands(root.section("commands")),
        schema_diff=parse_schema_diff(root.section("schema_diff")),
        aws=parse_aws(root.section("aws")),
        check=parse_check(root.section("check")),
    )
