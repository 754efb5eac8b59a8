"""The configuration reference names every key the tool reads."""

from __future__ import annotations

import re

from prodclone.settings import DEFAULTS
from tests.conftest import REPO


def leaf_keys(block: dict[str, object], prefix: str = "") -> list[str]:
    keys = []
    for name, value in block.items():
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(value, dict) and value:
            keys.extend(leaf_keys(value, path))
        else:
            keys.append(path)
    return keys


def test_configuration_reference_lists_every_key_in_its_section() -> None:
    text = (REPO / "docs" / "configuration.md").read_text()
    sections = re.split(r"^## ", text, flags=re.MULTILINE)
    missing = []
    for key in leaf_keys(DEFAULTS):
        section, _, name = key.rpartition(".")
        if section:
            body = next((s for s in sections if s.startswith(f"`prodclone.{section}`")), "")
            found = f"| `{name}` |" in body
        else:
            found = f"| `prodclone.{name}` |" in text
        if not found:
            missing.append(f"prodclone.{key}")
    assert missing == [], f"docs/configuration.md does not list: {', '.join(missing)}"
