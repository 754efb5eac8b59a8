"""Declarations that name a type in a schema pglast's parser does not know.

pglast runs PostgreSQL's PL/pgSQL compiler without a catalog: it resolves a qualified
type name only in public or pg_catalog. A body that declares `x billing.items%ROWTYPE`
is parsed with the declaration moved to public, and the schema put back in the tree.
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
