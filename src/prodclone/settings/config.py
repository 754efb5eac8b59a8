"""The `prodclone` program's Invoke Config: Invoke's files and env vars, prodclone's keys typed.

It reads the same files (`invoke.yaml`, `~/.invoke.yaml`, `/etc/invoke.yaml`, a
runtime file given with `-f`) and the same `INVOKE_...` env vars as `inv`, at
the same levels. Only the env level of the `prodclone` block differs: each
variable is read by its key's declared type (`settings.env`), where Invoke
would cast it to the type of whatever value it replaces.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any, cast

from invoke.config import Config
from invoke.env import Environment
from invoke.exceptions import Exit

from prodclone.errors import SettingsError
from prodclone.settings.env import typed_env, unknown_env_vars
from prodclone.settings.table import KEYS, ROOT, env_var_for


class ProdcloneConfig(Config):
    # The same file names and env var prefix as `inv`: one configuration for both.
    prefix = "invoke"

    def load_shell_env(self) -> None:
        self.merge()
        # Invoke's own keys (run.echo, ...) keep Invoke's loading and casts.
        others = {name: value for name, value in self._config.items() if name != ROOT}
        # Environment only lists and indexes the keys it is given: a plain dict serves.
        loader = Environment(config=cast(Config, others), prefix=self._env_prefix)
        data: dict[str, Any] = loader.load()
        try:
            # A key a runtime file (`-f`) sets is not read from the environment at all:
            # the file wins, as under `inv`, so a variable it hides cannot stop the task.
            typed = typed_env(os.environ, skip=_set_above_env(self))
        except SettingsError as exc:
            raise Exit(f"prodclone: {exc}", code=exc.exit_code) from None
        for name in unknown_env_vars(os.environ):
            # A mistyped name would otherwise leave its key at the file's value, unseen.
            print(f"prodclone: {name} names no setting and is ignored", file=sys.stderr)
        if typed:
            data[ROOT] = _fitting(typed[ROOT], self._config.get(ROOT))
        self._set(_env=data)
        self.merge()

    def load_collection(self, data: dict[str, Any], merge: bool = True) -> None:
        # The collection's defaults make every block a mapping; a file that gives one
        # as a single value (`local: embedded`) would stop Invoke's merge with a traceback.
        for block in file_blocks(self):
            problem = shape_problem(block)
            if problem:
                raise Exit(f"prodclone: {problem}", code=problem.exit_code)
        super().load_collection(data, merge=merge)

    def merge(self) -> None:
        super().merge()
        # Invoke merges a mapping key by key across levels; an env var's mapping
        # (`db_env`, `mask.rules`) replaces the file's whole, as any other value does.
        block = self._config.get(ROOT)
        env_block = self._env.get(ROOT) if isinstance(self._env, Mapping) else None
        if not isinstance(block, dict) or not isinstance(env_block, Mapping):
            return
        for item in KEYS:
            if item.kind != "map":
                continue
            value = _at(env_block, item.path)
            if value is None:
                continue
            *parents, leaf = item.path.split(".")
            node: Any = block
            for name in parents:
                node = node.get(name) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node[leaf] = dict(value)


def _set_above_env(config: Config) -> frozenset[str]:
    """Full paths of the declared keys a level above the environment sets."""
    levels = [config._runtime, config._overrides, config._modifications]
    return frozenset(
        item.full
        for item in KEYS
        if any(
            isinstance(level, Mapping) and _at(level.get(ROOT), item.path) is not None
            for level in levels
        )
    )


def raw_env(config: Config) -> dict[str, str] | None:
    """The env vars `load_settings` must parse itself, under a Config that is not ours.

    Under plain `inv` the env level holds Invoke's cast of each variable, so the
    raw text is handed over again (read, never changed), except for keys a level
    above the environment (a runtime file given with `inv -f`) sets. Under the
    `prodclone` program the env level is already typed: None.
    """
    if isinstance(config, ProdcloneConfig):
        return None
    above = [config._runtime, config._overrides, config._modifications]
    names: dict[str, str] = {}
    for item in KEYS:
        text = os.environ.get(item.env_var)
        if text is None:
            continue
        if any(
            isinstance(level, Mapping) and _at(level.get(ROOT), item.path) is not None
            for level in above
        ):
            continue
        names[item.env_var] = text
    return names


def shape_problem(block: Any, path: str = ROOT) -> SettingsError | None:
    """The first key of a file's `block` given as a single value where a mapping is declared."""
    if block is None:
        return None
    if not isinstance(block, Mapping):
        return _not_a_mapping(path, block)
    for name, value in block.items():
        full = f"{path}.{name}"
        is_block = any(item.full.startswith(f"{full}.") for item in KEYS)
        is_map = any(item.full == full and item.kind == "map" for item in KEYS)
        if value is None or not (is_block or is_map):
            continue
        if not isinstance(value, Mapping):
            return _not_a_mapping(full, value)
        found = shape_problem(value, full) if is_block else None
        if found:
            return found
    return None


def _not_a_mapping(path: str, value: Any) -> SettingsError:
    # The value's type only: a misplaced value may be anything, a secret included.
    got = type(value).__name__
    if any(item.full == path and item.kind == "map" for item in KEYS):
        what, how = "names to values", f"or set it with {env_var_for(path)} as a JSON object"
    else:
        what, how = "keys", f"write its keys indented under `{path.rpartition('.')[2]}:`"
    return SettingsError(f"{path} in a config file must be a mapping of {what} (got {got}); {how}")


def file_blocks(config: Config) -> list[Any]:
    """The `prodclone` blocks of the config files (system, user, project, runtime) alone.

    The merged config also holds the environment's values, where the mask secret
    belongs; in a file it is refused.
    """
    levels = [config._system, config._user, config._project, config._runtime]
    return [level.get(ROOT) for level in levels if isinstance(level, Mapping)]


def _at(block: Any, path: str) -> Any:
    node = block
    for name in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(name)
    return node


def _fitting(env_block: Mapping[str, Any], merged: Any, path: str = "") -> dict[str, Any]:
    """The env values whose parent is a mapping (or absent) in the merged config.

    Invoke cannot merge a value under a key a file gave as text (`local: embedded`);
    that key's own one-line error comes from the settings, not a traceback here.
    """
    fitting: dict[str, Any] = {}
    for name, value in env_block.items():
        below = merged.get(name) if isinstance(merged, Mapping) else None
        fits_mapping = below is None or isinstance(below, Mapping)
        if _is_map_key(f"{path}{name}"):
            if fits_mapping:
                fitting[name] = value
        elif isinstance(value, Mapping):
            if fits_mapping:
                fitting[name] = _fitting(value, below, f"{path}{name}.")
        elif not isinstance(below, Mapping):
            fitting[name] = value
    return fitting


def _is_map_key(path: str) -> bool:
    return any(item.kind == "map" and item.path == path for item in KEYS)
