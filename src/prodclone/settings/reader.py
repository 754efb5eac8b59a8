"""Typed, validated reads from the raw `prodclone` config block."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from prodclone.errors import SettingsError
from prodclone.settings.table import Key, Kind, env_var_for, key

__all__ = ["Reader", "env_var_for"]


class Reader:
    """Reads one section (say `prodclone.local`) and names the key in every error."""

    def __init__(self, raw: Mapping[str, Any] | None, path: str) -> None:
        self._raw: Mapping[str, Any] = raw or {}
        self.path = path

    def section(self, name: str) -> Reader:
        value = self._raw.get(name)
        if value is not None and not isinstance(value, Mapping):
            raise self.error(name, "must be a mapping of keys")
        return Reader(value, f"{self.path}.{name}")

    def error(self, key: str, problem: str) -> SettingsError:
        full = f"{self.path}.{key}"
        return SettingsError(
            f"{full} {problem}; set it in invoke.yaml (prodclone: ...) or with {env_var_for(full)}"
        )

    def declared(self, name: str, *kinds: Kind) -> Key:
        """The table's entry for `name`; reading a key as another type is a mistake here."""
        entry = key(f"{self.path}.{name}")
        if kinds and entry.kind not in kinds:
            raise TypeError(f"{entry.full} is declared {entry.kind}, read as {'/'.join(kinds)}")
        return entry

    def raw(self, name: str) -> Any:
        self.declared(name)
        return self._raw.get(name)

    def text(self, key: str, or_default: bool = False) -> str:
        """The text as written; unset (or, with `or_default`, empty) is the declared default."""
        default = str(self.declared(key, "text").default or "")
        value = self._raw.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(key, f"must be a string (got {value!r})")
        text = str(value).strip()
        return text or default if or_default else text

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.text(key, or_default=True)
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)} (got {value!r})")
        return value

    def flag(self, key: str, derived: bool | None = None) -> bool:
        """`derived` is the default of a key the table leaves to the code (declared None)."""
        declared = self.declared(key, "flag").default
        default = bool(derived if declared is None else declared)
        value = self._raw.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise self.error(key, f"must be true or false (got {value!r})")

    def whole(self, key: str, minimum: int | None = None, maximum: int | None = None) -> int:
        default = self.declared(key, "whole").default
        value = self._raw.get(key, default)
        if value is None or value == "":
            value = default
        try:
            number = int(value)
            if isinstance(value, float) and number != value:
                raise ValueError
        except (TypeError, ValueError):
            raise self.error(key, f"must be a whole number (got {value!r})") from None
        if minimum is not None and number < minimum:
            raise self.error(key, f"must be at least {minimum} (got {number})")
        if maximum is not None and number > maximum:
            raise self.error(key, f"must be at most {maximum} (got {number})")
        return number

    def number(self, key: str, minimum: float | None = None) -> float:
        number = self.maybe_number(key, minimum)
        if number is None:
            raise TypeError(f"{self.path}.{key} has no default: read it with maybe_number")
        return number

    def maybe_number(self, key: str, minimum: float | None = None) -> float | None:
        """A number, or None when it is unset and its declared default is None."""
        default = self.declared(key, "number").default
        value = self._raw.get(key, default)
        if value is None or value == "":
            value = default
        if value is None:
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self.error(key, f"must be a number (got {value!r})") from None
        if minimum is not None and number < minimum:
            raise self.error(key, f"must be at least {minimum} (got {number})")
        return number

    def text_list(self, key: str) -> tuple[str, ...]:
        """A list from YAML, or from an env var as a JSON list or comma-separated text.

        Unset: the declared default; empty ("" or `[]`): no items.
        """
        default: tuple[str, ...] = tuple(self.declared(key, "list").default)
        value = self._raw.get(key)
        if value is None:
            return default
        if value == "":
            return ()
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError:
                    raise self.error(key, "is not a valid JSON list") from None
            else:
                return tuple(part.strip() for part in text.split(",") if part.strip())
        if not isinstance(value, list | tuple) or not all(
            isinstance(item, str | int | float) and not isinstance(item, bool) for item in value
        ):
            raise self.error(key, f"must be a list of strings (got {value!r})")
        return tuple(str(item) for item in value)

    def text_map(self, key: str) -> dict[str, str]:
        self.declared(key, "map")
        value = self._raw.get(key)
        if value is None or value == "":
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise self.error(key, "must be a JSON object of names to values") from None
        if not isinstance(value, Mapping):
            raise self.error(key, f"must be a mapping of names to values (got {value!r})")
        result: dict[str, str] = {}
        for name, item in value.items():
            if not isinstance(item, str | int | float) or isinstance(item, bool):
                raise self.error(key, f"value of {name!r} must be a string")
            result[str(name)] = str(item)
        return result
