"""PL/pgSQL variables in an embedded statement replaced by typed parameters.

PL/pgSQL itself hands PostgreSQL each statement with its variables as parameters; doing
the same here lets the server resolve every other name (tables, columns, functions) as
it would when the function runs, without running anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pglast import parser

UNKNOWN = 0  # a parameter whose type the server infers
# Parse-tree nodes that name nothing in the catalog: a statement made only of these (and
# of variables) cannot hold a stale name, and is not sent to the server.
NAMES_NOTHING = {
    "SelectStmt",
    "ResTarget",
    "A_Const",
    "ParamRef",
    "A_Expr",
    "BoolExpr",
    "NullTest",
    "BooleanTest",
    "String",
    "Integer",
    "Float",
    "Boolean",
    "ColumnRef",
}


@dataclass
class Variable:
    name: str
    type_oid: int = UNKNOWN
    # A record (DECLARE r record, NEW, OLD): its fields once a static query filled it.
    record: bool = False
    fields: dict[str, int] = field(default_factory=dict)
    filled: bool = False  # a static query filled it at least once
    dynamic: bool = False  # something the check cannot follow filled it too


@dataclass
class Scope:
    variables: dict[str, Variable]
    labels: set[str]
    arg_types: list[int]  # $1..$n of the body: the function's arguments
    polymorphic: bool = False  # some argument's type is only known at call time


@dataclass
class Substituted:
    query: str
    param_types: list[int]
    untyped: bool = False  # some parameter's type is left to the server
    unresolvable: str = ""  # why the statement cannot be checked, when it cannot
    names_nothing: bool = False  # constants, operators and whole variables only
    # (record, field) pairs read before any static query filled that field.
    pending: list[tuple[str, str]] = field(default_factory=list)
    edits: list[tuple[int, int, int]] = field(default_factory=list)  # (start, old len, new len)

    def original_position(self, position: int) -> int:
        """A 0-based character in `query` as a 0-based character of the original text."""
        shift = 0
        for start, old, new in self.edits:
            if position < start + shift + new:
                if position >= start + shift:
                    return start
                break
            shift += new - old
        return position - shift


def _column_refs(
    node: Any, found: list[tuple[int, list[str]]], tables: set[str], kinds: set[str]
) -> None:
    """Every column reference, every name a table goes by, every kind of node."""
    if isinstance(node, dict):
        kinds.update(key for key in node if key[:1].isupper())
        ref = node.get("ColumnRef")
        if ref is not None and "location" in ref:
            names = [part["String"]["sval"] if "String" in part else "*" for part in ref["fields"]]
            found.append((ref["location"], names))
            return
        for kind in ("RangeVar", "RangeSubselect", "RangeFunction", "CommonTableExpr"):
            if kind in node:
                body = node[kind]
                tables.update(
                    name
                    for name in (
                        body.get("relname"),
                        body.get("ctename"),
                        body.get("alias", {}).get("aliasname"),
                    )
                    if name
                )
        for value in node.values():
            _column_refs(value, found, tables, kinds)
    elif isinstance(node, list):
        for item in node:
            _column_refs(item, found, tables, kinds)


def created_relations(query: str) -> set[str]:
    """Tables a statement creates (CREATE [TEMP] TABLE, CREATE TABLE AS), by bare name."""
    try:
        tree = json.loads(parser.parse_sql_json(query))
    except parser.ParseError:
        return set()
    names: set[str] = set()
    for statement in tree.get("stmts", []):
        body = statement.get("stmt", {})
        create = body.get("CreateStmt") or body.get("CreateTableAsStmt", {}).get("into")
        relation = (create or {}).get("relation") or (create or {}).get("rel")
        if relation:
            names.add(relation["relname"])
    return names


def substitute(query: str, scope: Scope) -> Substituted:
    """`query` with its variable references as $n; raises parser.ParseError on bad SQL."""
    refs: list[tuple[int, list[str]]] = []
    tables: set[str] = set()
    kinds: set[str] = set()
    tree = json.loads(parser.parse_sql_json(query))
    for statement in tree.get("stmts", []):
        _column_refs(statement.get("stmt"), refs, tables, kinds)
    params = list(scope.arg_types)
    result = Substituted(query, params, untyped=scope.polymorphic)
    result.names_nothing = kinds <= NAMES_NOTHING
    if not refs:
        return result
    encoded = query.encode()
    ascii_only = len(encoded) == len(query)
    tokens = parser.scan(query)
    by_start = {token.start: index for index, token in enumerate(tokens)}
    edits: list[tuple[int, int, str]] = []
    for location, names in sorted(refs):
        start = location if ascii_only else len(encoded[:location].decode(errors="ignore"))
        first = by_start.get(start)
        # alias.column: a table's column comes before a variable of that name.
        aliased = len(names) > 1 and names[0] in tables
        replacement = (
            None if first is None or aliased else _replacement(names, scope, params, result)
        )
        if first is None or replacement is None:
            result.names_nothing = False  # a column, for the server to resolve
            continue
        consumed, text = replacement
        last = first + 2 * (consumed - 1)
        if last >= len(tokens):
            del params[-1]
            result.names_nothing = False
            continue
        if text.startswith("("):
            result.names_nothing = False  # ($n).field: the field is the server's to find
        edits.append((start, tokens[last].end + 1, text))
    pieces, cursor = [], 0
    for start, end, text in edits:
        pieces += [query[cursor:start], text]
        result.edits.append((start, end - start, len(text)))
        cursor = end
    pieces.append(query[cursor:])
    result.query = "".join(pieces)
    return result


def _replacement(
    names: list[str], scope: Scope, params: list[int], result: Substituted
) -> tuple[int, str] | None:
    """How many leading names of a column reference a variable covers, and its parameter."""
    offset = 0
    if len(names) >= 2 and names[0] in scope.labels and names[1] in scope.variables:
        offset = 1  # <<label>>.variable, or the function's name before a parameter
    variable = scope.variables.get(names[offset])
    if variable is None:
        return None
    rest = names[offset + 1 :]
    if variable.record and not variable.type_oid:
        if not rest:
            # A whole value of a type not known here (pglast reads an enum or domain
            # variable as a record): the server infers it.
            params.append(UNKNOWN)
            result.untyped = True
            return offset + 1, f"${len(params)}"
        if len(rest) != 1 or rest[0] == "*":
            result.unresolvable = f"uses record {variable.name} whole, of a type not known here"
            return None
        field_type = variable.fields.get(rest[0])
        if field_type is None:
            result.pending.append((variable.name, rest[0]))
            result.untyped = True
        params.append(field_type or UNKNOWN)
        return offset + 2, f"${len(params)}"
    params.append(variable.type_oid)
    result.untyped = result.untyped or not variable.type_oid
    if rest:
        # A row's field stays for the server to resolve: ($n).field
        return offset + 1, f"(${len(params)})"
    return offset + 1, f"${len(params)}"
