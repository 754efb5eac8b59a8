"""A PL/pgSQL body, parsed by PostgreSQL's own parser (pglast), checked statement by statement."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pglast import parser

from prodclone.references.catalog import Routine, Trigger
from prodclone.references.declarations import (
    move_to_public,
    restore_rowtypes,
    restore_schemas,
    rowtypes_as_records,
)
from prodclone.references.model import Finding, Skipped
from prodclone.references.server import REFERENCE_ERRORS, Outcome, Server
from prodclone.references.substitute import Scope, Substituted, Variable, created_relations
from prodclone.references.substitute import substitute as substitute_variables

# PostgreSQL's RawParseMode for PL/pgSQL: a statement, an expression, an assignment.
STATEMENT, EXPRESSION = 0, 2
ASSIGNMENTS = (3, 4, 5)
TEXT = 25  # the OID of text
# Polymorphic and pseudo types: a parameter of one of these is left for the server to infer.
PSEUDO_TYPES = {2249, 2276, 2277, 2279, 2281, 2283, 2776, 3500, 3831, 4537, 4538}
PSEUDO_TYPES |= {5077, 5078, 5079, 5080}
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


class FunctionCheck:
    """One PL/pgSQL function checked against the catalog, once per table its triggers run on."""

    def __init__(self, server: Server, routine: Routine, function: dict[str, Any]) -> None:
        self.server = server
        self.routine = routine
        self.function = function
        self.findings: list[Finding] = []
        self.skipped: list[Skipped] = []
        self.statements = 0

    def run(self) -> None:
        self.server.use_search_path(self.routine.search_path)
        dynamic: list[tuple[int, str]] = []
        probes = list(walk(self.function, dynamic))
        for line, reason in dynamic:
            self.skipped.append(Skipped(self.routine.label, line, reason))
        created: set[str] = set()
        for probe in probes:
            if probe.mode == STATEMENT and probe.text:
                created |= created_relations(probe.text)
        triggers: list[Trigger | None] = list(self.routine.triggers) or [None]
        for trigger in triggers:
            self._check(probes, trigger, created)

    def _scope(self, trigger: Trigger | None) -> Scope:
        variables: dict[str, Variable] = {}
        labels = {self.routine.proname}
        for datum in self.function.get("datums", []):
            kind, body = next(iter(datum.items()))
            name = body.get("refname")
            if not name or kind not in ("PLpgSQL_var", "PLpgSQL_rec"):
                continue
            if kind == "PLpgSQL_rec":
                variable = Variable(name, record=True)
                if name in ("new", "old") and self.routine.is_trigger:
                    if trigger is None:
                        variable.dynamic = True  # no table: its fields are not known
                    else:
                        variable.type_oid = trigger.rowtype
            else:
                typname = body.get("datatype", {}).get("PLpgSQL_type", {}).get("typname", "")
                if name.lower().startswith("__case__variable_"):
                    typname = ""  # the CASE expression's type, which pglast does not know
                variable = Variable(name, type_oid=self._type(typname, variables, body))
                if not variable.type_oid and typname.lower().endswith("%rowtype"):
                    # Its table is gone: its fields cannot be resolved, only not checked.
                    variable.record = variable.dynamic = True
            variables.setdefault(name, variable)
        labels |= _labels(self.function.get("action"))
        # $n of a polymorphic argument as text: every parameter needs a type, used or not
        # (its named variable is a parameter of its own, left to the server).
        arg_types = [TEXT if oid in PSEUDO_TYPES else oid for oid in self.routine.argtypes]
        polymorphic = any(oid in PSEUDO_TYPES for oid in self.routine.argtypes)
        return Scope(variables, labels, arg_types, polymorphic)

    def _type(self, typname: str, known: dict[str, Variable], datum: dict[str, Any]) -> int:
        """A declared type's OID; a stale %TYPE or %ROWTYPE is a finding at its declaration."""
        lowered = typname.lower()
        if lowered.endswith("%type"):
            parts = typname[: -len("%type")].split(".")
            if len(parts) == 1 and parts[0].lower() in known:
                return known[parts[0].lower()].type_oid
            expression = f"(NULL::{'.'.join(parts[:-1])}).{parts[-1]}"
        elif lowered.endswith("%rowtype"):
            expression = f"NULL::{typname[: -len('%rowtype')]}"
        elif typname:
            expression = f"NULL::{typname}"
        else:
            return 0
        outcome = self.server.type_of(expression)
        if outcome.ok:
            oid = next(iter(outcome.columns.values()), 0)
            return 0 if oid in PSEUDO_TYPES else oid
        if outcome.code in REFERENCE_ERRORS:
            line = datum.get("lineno", 1)
            self._finding(line, outcome, f"declaration of {datum.get('refname')} {typname}")
        return 0

    def _check(self, probes: list[Probe], trigger: Trigger | None, created: set[str]) -> None:
        scope = self._scope(trigger)
        context = f"trigger {trigger.name} on {trigger.table}" if trigger else ""
        pending: list[tuple[int, str, str]] = []
        for probe in probes:
            if probe.mode < 0:
                scope.variables[probe.fills].dynamic = True
                continue
            for line, text, prefix in _probe_texts(probe):
                self.statements += 1
                outcome, substituted = self._prepare(text, scope, line, bool(probe.fills))
                if substituted is None or outcome is None:
                    continue
                pending += [(line, record, name) for record, name in substituted.pending]
                if outcome.ok:
                    if probe.fills and prefix == 0:
                        record = scope.variables[probe.fills]
                        record.fields.update(outcome.columns)
                        record.filled = True
                    continue
                if probe.fills:
                    scope.variables[probe.fills].dynamic = True
                self._outcome(outcome, substituted, probe, text, prefix, context, created)
        for line, record_name, name in pending:
            record = scope.variables[record_name]
            if record.filled and not record.dynamic and name not in record.fields:
                message = f'record "{record_name}" has no field "{name}"'
                self._finding(line, Outcome("42703", message), context, missing=name)

    def _prepare(
        self, text: str, scope: Scope, line: int, describe: bool
    ) -> tuple[Outcome | None, Substituted | None]:
        try:
            substituted = substitute_variables(text, scope)
        except parser.ParseError as exc:
            self.skipped.append(Skipped(self.routine.label, line, f"cannot parse: {exc}"))
            return None, None
        if substituted.unresolvable:
            self.skipped.append(Skipped(self.routine.label, line, substituted.unresolvable))
            return None, None
        outcome = self.server.prepare(substituted.query, substituted.param_types, describe)
        if not outcome.ok and substituted.untyped and outcome.code not in REFERENCE_ERRORS:
            # A parameter the server could not type (a record's field, say, in a
            # variadic "any" call): as text it usually gets past the typing, to the names.
            as_text = [param or TEXT for param in substituted.param_types]
            retried = self.server.prepare(substituted.query, as_text, describe)
            if retried.ok or retried.code in REFERENCE_ERRORS:
                outcome = retried
        return outcome, substituted

    def _outcome(
        self,
        outcome: Outcome,
        substituted: Substituted,
        probe: Probe,
        text: str,
        prefix: int,
        context: str,
        created: set[str],
    ) -> None:
        position = substituted.original_position(max(outcome.position - 1, 0)) - prefix
        source = text[prefix:]
        line = probe.line + source[: max(position, 0)].count("\n")
        missing = outcome.missing.rsplit(".", 1)[-1]
        if outcome.code not in REFERENCE_ERRORS:
            reason = f"not checkable as written here ({outcome.code}: {outcome.message})"
        elif outcome.code == "42P01" and missing in created:
            reason = f"uses table {missing}, which the function creates itself"
        elif outcome.code == "42883" and substituted.untyped:
            reason = f"calls with arguments of types not known here ({outcome.message})"
        else:
            self._finding(line, outcome, context)
            return
        self.skipped.append(Skipped(self.routine.label, line, reason))

    def _finding(self, line: int, outcome: Outcome, context: str, missing: str = "") -> None:
        self.findings.append(
            Finding(
                oid=self.routine.oid,
                function=self.routine.label,
                line=line,
                missing=missing or outcome.missing,
                message=outcome.message,
                code=outcome.code,
                context=context,
            )
        )


def _labels(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "label" and isinstance(value, str):
                found.add(value)
            else:
                found |= _labels(value)
    elif isinstance(node, list):
        for item in node:
            found |= _labels(item)
    return found


def _probe_texts(probe: Probe) -> list[tuple[int, str, int]]:
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
