"""`prodclone.schema_diff`: what the schema gate ignores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prodclone.settings.reader import Reader

SCHEMA_DIFF_DEFAULTS: dict[str, Any] = {
    # Rules as "kind:pattern[:attribute]" strings; `rds` names the built-in RDS rule set.
    "ignore": "",
    "owners": False,
}


@dataclass(frozen=True)
class SchemaDiffSettings:
    ignore: tuple[str, ...]
    owners: bool


def parse_schema_diff(reader: Reader) -> SchemaDiffSettings:
    return SchemaDiffSettings(ignore=reader.text_list("ignore"), owners=reader.flag("owners"))
