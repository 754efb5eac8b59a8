"""The configuration reference and the table of settings say the same.

Each key's row in docs/configuration.md (in its block's section) must show the
table's default exactly, and its meaning must begin with the table's one line of
help (its full stop aside); the docs go on with the detail the table leaves out. Every row names a
declared key, and every declared key has a row.
"""

from __future__ import annotations

import re

from prodclone.settings.table import KEYS
from tests.conftest import REPO

ROW = re.compile(r"^\| `(?P<key>[\w.]+)` \| (?P<default>.*?) \| (?P<meaning>.*) \|$")


def documented_rows() -> dict[str, tuple[str, str]]:
    """Full key -> (default, meaning), from the tables under each `## ` section."""
    rows: dict[str, tuple[str, str]] = {}
    section = None
    for line in (REPO / "docs" / "configuration.md").read_text().splitlines():
        heading = re.match(r"^## (?:`prodclone\.(?P<block>\w+)`|Top level)", line)
        if heading:
            section = heading.group("block") or ""
            continue
        if line.startswith("## "):
            section = None
        row = ROW.match(line)
        if row is None or section is None:
            continue
        name = row.group("key")
        full = name if section == "" else f"prodclone.{section}.{name}"
        rows[full] = (row.group("default"), row.group("meaning"))
    return rows


def test_every_declared_key_has_a_row_and_every_row_a_key() -> None:
    rows = documented_rows()
    declared = {item.full for item in KEYS}
    assert sorted(declared - rows.keys()) == [], "keys missing from docs/configuration.md"
    assert sorted(rows.keys() - declared) == [], "rows for keys the table does not declare"


def test_each_row_shows_the_declared_default_and_help() -> None:
    rows = documented_rows()
    wrong = []
    for item in KEYS:
        if item.full not in rows:
            continue
        default, meaning = rows[item.full]
        if default != item.shown_default():
            wrong.append(f"{item.full}: default {default!r}, table {item.shown_default()!r}")
        # The help line's own full stop may become the docs' "(", ";" or ":".
        if not meaning.startswith(item.help.removesuffix(".")):
            wrong.append(f"{item.full}: meaning does not begin with {item.help!r}")
    assert wrong == []
