"""String literals in bodies that equal a name the migration renamed: payload keys, say."""

from __future__ import annotations

from pglast import parser

from prodclone.references.catalog import Routine
from prodclone.references.model import RenamedLiteral
from prodclone.references.names import Renames


def _unquote(text: str) -> str:
    if text[:1] in "eE" and text[1:2] == "'":
        text = text[1:]
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    if text.startswith("$"):
        tag_end = text.find("$", 1) + 1
        return text[tag_end:-tag_end] if tag_end else text
    return text


def renamed_literals(routine: Routine, renames: Renames) -> list[RenamedLiteral]:
    try:
        tokens = parser.scan(routine.source)
    except parser.ParseError:
        return []
    warnings = []
    for token in tokens:
        if token.name != "SCONST":
            continue
        value = _unquote(routine.source[token.start : token.end + 1])
        new_name = renames.new_name(value)
        if new_name:
            line = routine.source[: token.start].count("\n") + 1
            warnings.append(RenamedLiteral(routine.label, line, value, new_name))
    return warnings
