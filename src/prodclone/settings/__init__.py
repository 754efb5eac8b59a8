"""The `prodclone` config block, resolved once per task into frozen dataclasses.

Each key is declared once in `prodclone.settings.table`; `load_settings`
validates the merged block and stops with one line naming the bad key.

Env vars: the `prodclone` program's Config (`prodclone.settings.config`) reads
them typed, through Invoke's own env loading. Under plain `inv`, Invoke's
loader casts them to the type of the value they replace, so `load_settings`
is handed the raw text of each set env var again (read, never changed) to
parse in place of that cast.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodclone.settings.aws import AwsSettings, parse_aws
from prodclone.settings.check import CheckSettings, parse_check
from prodclone.settings.local import (
    CommandSettings,
    LocalSettings,
    parse_commands,
    parse_local,
)
from prodclone.settings.mask import MaskSettings, parse_mask, refuse_secret_in_file
from prodclone.settings.reader import Reader
from prodclone.settings.schema_diff import SchemaDiffSettings, parse_schema_diff
from prodclone.settings.table import KEYS, ROOT, invoke_defaults

__all__ = [
    "DEFAULTS",
    "AwsSettings",
    "CheckSettings",
    "CommandSettings",
    "LocalSettings",
    "MaskSettings",
    "SchemaDiffSettings",
    "Settings",
    "default_config",
    "load_settings",
]

# The block Invoke is given as defaults, derived from the table.
DEFAULTS: dict[str, Any] = invoke_defaults()[ROOT]

# 29 long at most: `<app>_prod_clone` must fit the 40 that clone_db allows.
_APP_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,28}$")


def default_config() -> dict[str, Any]:
    """Every declared key, for `Collection.configure` (see `table.invoke_defaults`)."""
    return invoke_defaults()


def _with_env(config: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """`config` with the text of each set `INVOKE_PRODCLONE_...` env var in its key's place."""
    merged = copy.deepcopy(dict(config))
    for item in KEYS:
        text = environ.get(item.env_var)
        if text is None:
            continue
        *parents, leaf = item.full.split(".")
        block = merged
        for name in parents:
            if not isinstance(block.get(name), dict):
                block[name] = {}
            block = block[name]
        block[leaf] = text
    return merged


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
    mask: MaskSettings


def load_settings(
    config: Mapping[str, Any],
    project_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    files: Sequence[Any] | None = None,
) -> Settings:
    """Validate `config["prodclone"]`; relative paths are taken from `project_dir`.

    With `environ`, a set `INVOKE_PRODCLONE_...` env var overrides its key, as
    in Invoke, but its text is parsed here (see the module's note).

    `files` are the `prodclone` blocks of the config files alone, where a secret
    must not be; without them `config` is taken as read from files.
    """
    project = (project_dir or Path.cwd()).resolve()
    for block in files if files is not None else [config.get("prodclone")]:
        refuse_secret_in_file(block)
    if environ is not None:
        config = _with_env(config, environ)
    root = Reader(config.get("prodclone"), "prodclone")
    app = root.text("app", or_default=True)
    if not _APP_NAME.match(app):
        raise root.error(
            "app", f"must be lower-case letters, digits and _, up to 29 long (got {app!r})"
        )
    dump_dir = Path(root.text("dump_dir", or_default=True)).expanduser()
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
        mask=parse_mask(root.section("mask")),
    )
