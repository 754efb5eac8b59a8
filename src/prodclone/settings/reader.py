"""Typed, validated reads from the raw `prodclone` config block."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from prodclone.errors import SettingsError


def env_var_for(path: str) -> str:
    return "INVOKE_" + path.replace(".", "_").upper()


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

    def raw(self, key: str) -> Any:
        return self._raw.get(key)

    def text(self, key: str, default: str = "") -> str:
        value = self._raw.get(key, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(key, f"must be a string (got {value!r})")
        return str(value).strip()

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(key, default) or default
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)} (got {value!r})")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
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

    def whole(
        self, key: str, default: int, minimum: int | None = None, maximum: int | None = None
    ) -> int:
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

    def number(self, key: str, default: float, minimum: float | None = None) -> float:
        value = self._raw.get(key, default)
        if value is None or value == "":
            value = default
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self.error(key, f"must be a number (got {value!r})") from None
        if minimum is not None and number < minimum:
            raise self.error(key, f"must be at least {minimum} (got {number})")
        return number

    def text_list(self, key: str) -> tuple[str, ...]:
        """A list from YAML, or from an env var as a JSON list or comma-separated text."""
        value = self._raw.get(key)
        if value is None or value == "":
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
