"""The `prodclone` config block, resolved once per task into frozen dataclasses.

Every key is declared in `DEFAULTS` so that Invoke maps `INVOKE_PRODCLONE_...`
env vars onto it; `load_settings` validates the merged block and stops with one
line naming the bad key.

Invoke casts an env var to the type of the value it replaces, and badly:
"false" becomes True, "many" for a number is a traceback, and a mapping key
(`{}`) takes no env var at all. So Invoke is given every typed default as ""
(unset: the parser applies the real default), and `load_settings` puts each
set env var's own text in place of Invoke's cast, for the Reader to parse.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping, MutableMapping
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
from prodclone.settings.mask import MASK_DEFAULTS, MaskSettings, parse_mask, refuse_secret_in_file
from prodclone.settings.reader import Reader, env_var_for
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
    "MaskSettings",
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
    "mask": MASK_DEFAULTS,
}

# 29 long at most: `<app>_prod_clone` must fit the 40 that clone_db allows.
_APP_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,28}$")


def default_config() -> dict[str, Any]:
    """Every declared key, for `Collection.configure`; typed values declared as "" (unset)."""
    return {"prodclone": _as_text(DEFAULTS)}


def _as_text(block: Mapping[str, Any]) -> dict[str, Any]:
    declared: dict[str, Any] = {}
    for key, value in block.items():
        if isinstance(value, Mapping):
            declared[key] = _as_text(value)
        elif isinstance(value, bool | int | float):
            declared[key] = ""
        else:
            declared[key] = copy.deepcopy(value)
    return declared


def declared_keys(block: Mapping[str, Any] = DEFAULTS, path: str = "prodclone") -> Iterator[str]:
    """Dotted paths of every declared key (a `{}` default is one key: a mapping value)."""
    for key, value in block.items():
        if isinstance(value, Mapping) and value:
            yield from declared_keys(value, f"{path}.{key}")
        else:
            yield f"{path}.{key}"


ENV_PREFIX = "INVOKE_PRODCLONE_"
_claimed_env: dict[str, str] = {}


def claim_env_vars(environ: MutableMapping[str, str]) -> None:
    """Take the `INVOKE_PRODCLONE_...` variables out of Invoke's sight.

    prodclone reads them itself (`load_settings(environ=...)`). Invoke's own
    loader casts each to the type of its key's current value and stops every
    task with a traceback when invoke.yaml made that value a list.
    """
    for name in [name for name in environ if name.startswith(ENV_PREFIX)]:
        _claimed_env[name] = environ.pop(name)


def settings_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The claimed variables, and any set since, for `load_settings(environ=...)`."""
    current = {name: value for name, value in environ.items() if name.startswith(ENV_PREFIX)}
    return {**_claimed_env, **current}


def _with_env(config: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """`config` with the text of each set `INVOKE_PRODCLONE_...` env var in its key's place."""
    merged = copy.deepcopy(dict(config))
    for path in declared_keys():
        text = environ.get(env_var_for(path))
        if text is None:
            continue
        *parents, leaf = path.split(".")
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
) -> Settings:
    """Validate `config["prodclone"]`; relative paths are taken from `project_dir`.

    With `environ`, a set `INVOKE_PRODCLONE_...` env var overrides its key, as
    in Invoke, but its text is parsed here (see the module's note).
    """
    project = (project_dir or Path.cwd()).resolve()
    refuse_secret_in_file(config.get("prodclone"))
    if environ is not None:
        config = _with_env(config, environ)
    root = Reader(config.get("prodclone"), "prodclone")
    app = root.text("app") or "app"
    if not _APP_NAME.match(app):
        raise root.error(
            "app", f"must be lower-case letters, digits and _, up to 29 long (got {app!r})"
        )
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
        mask=parse_mask(root.section("mask")),
    )
