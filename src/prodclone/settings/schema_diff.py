"""`prodclone.schema_diff`: what the schema gate ignores."""

from __future__ import annotations

from dataclasses import dataclass

from prodclone.settings.reader import Reader


@dataclass(frozen=True)
class SchemaDiffSettings:
    ignore: tuple[str, ...]
    owners: bool


def parse_schema_diff(reader: Reader) -> SchemaDiffSettings:
    return SchemaDiffSettings(ignore=reader.text_list("ignore"), owners=reader.flag("owners"))
