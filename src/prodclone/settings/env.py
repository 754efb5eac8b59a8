"""The `INVOKE_PRODCLONE_...` env vars, read by each key's declared type.

Invoke's own loader casts an env var to the type of the value it replaces
("false" is true for a bool, a list is a traceback, a `{}` mapping takes no
env var). This reads the text by the table instead; a bad value is one line
naming the key and its env var.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Set
from typing import Any

from prodclone.settings.reader import Reader
from prodclone.settings.table import KEYS, ROOT, Key


def typed_env(environ: Mapping[str, str], skip: Set[str] = frozenset()) -> dict[str, Any]:
    """The set env vars as a nested block under `prodclone`, each value of its key's type.

    Keys in `skip` (full paths) are left out: a level above the environment sets them.
    """
    block: dict[str, Any] = {}
    for item in KEYS:
        text = environ.get(item.env_var)
        if text is None or item.full in skip:
            continue
        *parents, leaf = item.path.split(".")
        node = block
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = from_text(item, text)
    return {ROOT: block} if block else {}


def from_text(item: Key, text: str) -> Any:
    """`text` as a value of `item`'s type; empty text of a flag or number is unset (None)."""
    reader = Reader({item.name: text}, f"{ROOT}.{item.section}" if item.section else ROOT)
    if item.kind == "text":
        return text
    if item.kind == "list":
        return list(reader.text_list(item.name))
    if item.kind == "map":
        return _mapping(reader, item, text)
    if not text.strip():
        return None
    if item.kind == "flag":
        return reader.flag(item.name)
    if item.kind == "whole":
        return reader.whole(item.name)
    return reader.maybe_number(item.name)


def _mapping(reader: Reader, item: Key, text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise reader.error(item.name, "must be a JSON object")
    return value


PREFIX = "INVOKE_PRODCLONE_"


def unknown_env_vars(environ: Mapping[str, str]) -> list[str]:
    """`INVOKE_PRODCLONE_...` variables that name no declared key (a typo, say)."""
    known = {item.env_var for item in KEYS}
    return sorted(name for name in environ if name.startswith(PREFIX) and name not in known)
