"""Declarations pglast's PL/pgSQL parser cannot resolve, rewritten for it and put back.

pglast runs PostgreSQL's PL/pgSQL compiler without a catalog. It resolves a qualified
type name only in public or pg_catalog, so a body that declares `x billing.items%ROWTYPE`
is parsed with the declaration moved to public and the schema put back in the tree. It
does not know a table's columns either, so `v.status := ...` on a `%ROWTYPE` variable is
parsed with the variable declared `record`, and its declared type put back.
"""

from __future__ import annotations

from typing import Any

from pglast import parser

KNOWN = {"public", "pg_catalog"}


def _identifier(text: str) -> str:
    return text[1:-1].replace('""', '"') if text.startswith('"') else text.lower()


def move_to_public(source: str, schemas: set[str]) -> tuple[str, dict[str, str]]:
    """`source` with DECLARE sections' other schemas written as public; name -> schema."""
    tokens = parser.scan(source)
    moved: dict[str, str] = {}
    pieces, cursor, declaring = [], 0, False
    for index, token in enumerate(tokens):
        if token.name == "DECLARE":
            declaring = True
        elif token.name == "BEGIN_P":
            declaring = False
        if not declaring or index + 2 >= len(tokens) or tokens[index + 1].name != "ASCII_46":
            continue
        schema = _identifier(source[token.start : token.end + 1])
        if schema in KNOWN or schema not in schemas:
            continue
        following = tokens[index + 2]
        moved[_identifier(source[following.start : following.end + 1])] = schema
        pieces += [source[cursor : token.start], "public"]
        cursor = token.end + 1
    pieces.append(source[cursor:])
    return "".join(pieces), moved


def _restore(text: str, moved: dict[str, str]) -> str:
    for name, schema in moved.items():
        text = text.replace(f"public.{name}", f"{schema}.{name}")
    return text


def restore_schemas(function: dict[str, Any], moved: dict[str, str]) -> None:
    """Put the moved schemas back into the declarations' types and expressions."""
    for datum in function.get("datums", []):
        body = next(iter(datum.values()))
        datatype = body.get("datatype", {}).get("PLpgSQL_type", {})
        if "typname" in datatype:
            datatype["typname"] = _restore(datatype["typname"], moved)
        for key in ("default_val", "cursor_explicit_expr"):
            expression = body.get(key, {}).get("PLpgSQL_expr")
            if expression:
                expression["query"] = _restore(expression["query"], moved)


def _declared_rowtypes(source: str) -> list[tuple[int, int, str, str]]:
    """(start, end, variable, type text) of each `variable type%ROWTYPE` declaration."""
    tokens = parser.scan(source)
    found = []
    declaring, statement_start = False, 0
    for index, token in enumerate(tokens):
        if token.name == "DECLARE":
            declaring, statement_start = True, index + 1
        elif token.name == "BEGIN_P":
            declaring = False
        elif declaring and token.name == "ASCII_59":
            statement_start = index + 1
        elif (
            declaring
            and token.name == "ASCII_37"
            and index + 1 < len(tokens)
            and source[tokens[index + 1].start : tokens[index + 1].end + 1].lower() == "rowtype"
            and index - statement_start >= 2
        ):
            variable = tokens[statement_start]
            type_start = tokens[statement_start + 1]
            if source[type_start.start : type_start.end + 1].lower() == "constant":
                type_start = tokens[statement_start + 2]
            end = tokens[index + 1].end + 1
            found.append(
                (
                    type_start.start,
                    end,
                    _identifier(source[variable.start : variable.end + 1]),
                    source[type_start.start : end],
                )
            )
    return found


def rowtypes_as_records(source: str) -> tuple[str, dict[str, str]]:
    """`source` with each `%ROWTYPE` declaration written `record`; variable -> its type."""
    declared = _declared_rowtypes(source)
    pieces, cursor = [], 0
    for start, end, _variable, _type_text in declared:
        pieces += [source[cursor:start], "record"]
        cursor = end
    pieces.append(source[cursor:])
    return "".join(pieces), {variable: text for _, _, variable, text in declared}


def restore_rowtypes(function: dict[str, Any], rowtypes: dict[str, str]) -> None:
    """The `record` stand-ins as the `%ROWTYPE` variables they were declared."""
    datums = function.get("datums", [])
    for index, datum in enumerate(datums):
        record = datum.get("PLpgSQL_rec")
        if record and record.get("refname") in rowtypes:
            typname = rowtypes[record["refname"]]
            datums[index] = {
                "PLpgSQL_var": {
                    "refname": record["refname"],
                    "lineno": record.get("lineno", 1),
                    "datatype": {"PLpgSQL_type": {"typname": typname}},
                }
            }
