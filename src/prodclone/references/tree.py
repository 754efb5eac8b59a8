"""A PL/pgSQL body as PostgreSQL's own parser (through pglast) sees it: its SQL, in order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pglast import parser

from prodclone.references.catalog import Routine
from prodclone.references.declarations import (
    move_to_public,
    restore_rowtypes,
    restore_schemas,
    rowtypes_as_records,
)

# PostgreSQL's RawParseMode for PL/pgSQL: a statement, an expression, an assignment.
STATEMENT, EXPRESSION = 0, 2
ASSIGNMENTS = (3, 4, 5)
# Statements that run a string built at run time: what they run cannot be known here.
DYNAMIC = {
    "PLpgSQL_stmt_dynexecute": "EXECUTE of a string built at run time",
    "PLpgSQL_stmt_dynfors": "FOR ... IN EXECUTE of a string built at run time",
}
# Statements that fill their target record from their own static query.
FILLS_FROM_QUERY = {"PLpgSQL_stmt_execsql": "sqlstmt", "PLpgSQL_stmt_fors": "query"}


@dataclass
class Probe:
    line: int
    text: str  # as written in the body
    mode: int
    fills: str = ""  # the record this statement fills, when it fills one from its query


def parse(routine: Routine, schemas: set[str]) -> dict[str, Any]:
    """The PL/pgSQL parse tree; raises parser.ParseError on what pglast cannot parse."""
    definition = routine.definition
    # pglast's parser cannot type a VARIADIC argument; the body reads it as the array
    # it is either way.
    body_at = definition.rfind(routine.source)
    head = definition[:body_at].replace("VARIADIC ", "")
    tail = definition[body_at + len(routine.source) :]
    source = routine.source
    moved: dict[str, str] = {}
    rowtypes: dict[str, str] = {}
    while True:
        try:
            parsed = json.loads(parser.parse_plpgsql_json(head + source + tail))
            break
        except parser.ParseError as exc:
            if "LookupExplicitNamespace" in str(exc) and not moved:
                source, moved = move_to_public(source, schemas)
                if moved:
                    continue
            if "is not a known variable" in str(exc) and not rowtypes:
                source, rowtypes = rowtypes_as_records(source)
                if rowtypes:
                    continue
            raise
    function = dict(parsed[0]["PLpgSQL_function"])
    restore_rowtypes(function, rowtypes)
    restore_schemas(function, moved)
    return function


def walk(function: dict[str, Any], skipped: list[tuple[int, str]]) -> Iterator[Probe]:
    """Every embedded statement and expression in body order; dynamic ones into `skipped`."""
    datums = function.get("datums", [])
    for datum in datums:
        body = next(iter(datum.values()))
        line = body.get("lineno", 1)
        for key in ("default_val", "cursor_explicit_expr"):
            expression = body.get(key, {}).get("PLpgSQL_expr")
            if expression:
                yield Probe(line, expression["query"], expression.get("parseMode", 0))
    yield from _statements(function.get("action"), 1, datums, skipped)


def _record_name(target: Any) -> str:
    if isinstance(target, dict) and "PLpgSQL_rec" in target:
        return str(target["PLpgSQL_rec"].get("refname", ""))
    return ""


def _statements(
    node: Any, line: int, datums: list[dict[str, Any]], skipped: list[tuple[int, str]]
) -> Iterator[Probe]:
    if isinstance(node, list):
        for item in node:
            yield from _statements(item, line, datums, skipped)
        return
    if not isinstance(node, dict):
        return
    for kind, body in node.items():
        if kind == "PLpgSQL_expr":
            yield Probe(line, body["query"], body.get("parseMode", 0))
            continue
        if not isinstance(body, dict):
            yield from _statements(body, line, datums, skipped)
            continue
        line = body.get("lineno", line)
        if kind in DYNAMIC:
            skipped.append((line, DYNAMIC[kind]))
        if "dynquery" in body:
            skipped.append((line, "a query built at run time (OPEN/RETURN QUERY ... EXECUTE)"))
        filled = _record_name(body.get("target") or body.get("var"))
        if filled and kind not in FILLS_FROM_QUERY:
            yield Probe(line, "", -1, fills=filled)  # filled by what the check cannot follow
        if kind == "PLpgSQL_stmt_assign":
            varno = body.get("varno", 0)  # pglast leaves out fields that are 0
            target = datums[varno] if varno < len(datums) else {}
            name = _record_name(target)
            if name:
                yield Probe(line, "", -1, fills=name)
        query_key = FILLS_FROM_QUERY.get(kind)
        if query_key and body.get(query_key):
            expression = body[query_key]["PLpgSQL_expr"]
            yield Probe(line, expression["query"], expression.get("parseMode", 0), fills=filled)
        # Expressions before nested bodies: a FOR loop's query fills its record first.
        for key, value in sorted(body.items(), key=lambda item: isinstance(item[1], list)):
            if key in (query_key, "target", "var"):
                continue
            if isinstance(value, dict | list):
                yield from _statements(value, line, datums, skipped)


def block_labels(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "label" and isinstance(value, str):
                found.add(value)
            else:
                found |= block_labels(value)
    elif isinstance(node, list):
        for item in node:
            found |= block_labels(item)
    return found


def probe_texts(probe: Probe) -> list[tuple[int, str, int]]:
    """(line, SQL text, characters added before the body's text) for one probe."""
    if probe.mode == STATEMENT:
        return [(probe.line, probe.text, 0)]
    if probe.mode == EXPRESSION:
        return [(probe.line, "SELECT " + probe.text, 7)]
    if probe.mode in ASSIGNMENTS:
        target, expression = _split_assignment(probe.text)
        texts = [(probe.line, "SELECT " + probe.text[expression:], 7 - expression)]
        if "." in target:  # NEW.col := ..., rec.field := ...: the field must exist
            texts.append((probe.line, "SELECT " + target, 7))
        return texts
    return []


def _split_assignment(text: str) -> tuple[str, int]:
    """`target := expression`: the target, and where the expression starts."""
    depth = 0
    for token in parser.scan(text):
        if token.name in ("ASCII_40", "ASCII_91"):
            depth += 1
        elif token.name in ("ASCII_41", "ASCII_93"):
            depth -= 1
        elif depth == 0 and token.name in ("COLON_EQUALS", "ASCII_61"):
            return text[: token.start], token.end + 1
    return "", 0
