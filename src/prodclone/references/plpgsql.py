"""A PL/pgSQL function checked statement by statement against the catalog."""

from __future__ import annotations

from typing import Any

from pglast import parser

from prodclone.references.catalog import Routine, Trigger
from prodclone.references.model import Finding, Skipped
from prodclone.references.server import REFERENCE_ERRORS, Outcome, Server
from prodclone.references.substitute import Scope, Substituted, Variable, created_relations
from prodclone.references.substitute import substitute as substitute_variables
from prodclone.references.tree import STATEMENT, Probe, block_labels, probe_texts, walk

TEXT = 25  # the OID of text
# Missing names that a caller's search_path could supply.
OWN_SCHEMA_ERRORS = {"42P01", "42883", "42704"}
# Polymorphic and pseudo types: a parameter of one of these is left for the server to infer.
PSEUDO_TYPES = {2249, 2276, 2277, 2279, 2281, 2283, 2776, 3500, 3831, 4537, 4538}
PSEUDO_TYPES |= {5077, 5078, 5079, 5080}


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
        labels |= block_labels(self.function.get("action"))
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
        # Statements that fill no record go to the server together, in one round trip.
        queued: list[tuple[Probe, int, str, int, Substituted]] = []
        for probe in probes:
            if probe.mode < 0:
                scope.variables[probe.fills].dynamic = True
                continue
            for line, text, prefix in probe_texts(probe):
                self.statements += 1
                substituted = self._substitute(text, scope, line)
                if substituted is None:
                    continue
                pending += [(line, record, name) for record, name in substituted.pending]
                if not (probe.fills and prefix == 0):
                    if not substituted.names_nothing:
                        queued.append((probe, line, text, prefix, substituted))
                    continue
                # Later statements read this record's fields: its columns are needed now.
                record = scope.variables[probe.fills]
                outcome = self._retried(substituted, self._prepare(substituted, True), True)
                if outcome.ok:
                    record.fields.update(outcome.columns)
                    record.filled = True
                else:
                    record.dynamic = True
                    self._outcome(outcome, substituted, probe, text, prefix, context, created)

        def finish(outcomes: list[Outcome]) -> None:
            for (probe, line, text, prefix, substituted), outcome in zip(
                queued, outcomes, strict=True
            ):
                try:
                    outcome = self._retried(substituted, outcome, False)
                    if not outcome.ok:
                        self._outcome(outcome, substituted, probe, text, prefix, context, created)
                except (KeyError, IndexError, TypeError, ValueError) as exc:
                    reason = f"not followed by this check ({type(exc).__name__}: {exc})"
                    self.skipped.append(Skipped(self.routine.label, line, reason))

        # Read back while the next function is parsed: see Server.submit.
        self.server.submit([(item[4].query, item[4].param_types) for item in queued], finish)
        for line, record_name, name in pending:
            record = scope.variables[record_name]
            if record.filled and not record.dynamic and name not in record.fields:
                message = f'record "{record_name}" has no field "{name}"'
                self._finding(line, Outcome("42703", message), context, missing=name)

    def _substitute(self, text: str, scope: Scope, line: int) -> Substituted | None:
        try:
            substituted = substitute_variables(text, scope)
        except parser.ParseError as exc:
            self.skipped.append(Skipped(self.routine.label, line, f"cannot parse: {exc}"))
            return None
        if substituted.unresolvable:
            self.skipped.append(Skipped(self.routine.label, line, substituted.unresolvable))
            return None
        return substituted

    def _prepare(self, substituted: Substituted, describe: bool) -> Outcome:
        return self.server.prepare(substituted.query, substituted.param_types, describe)

    def _retried(self, substituted: Substituted, outcome: Outcome, describe: bool) -> Outcome:
        """A parameter the server could not type (a record's field in a variadic "any"
        call, say) as text: that usually gets past the typing, to the names."""
        if outcome.ok or not substituted.untyped or outcome.code in REFERENCE_ERRORS:
            return outcome
        as_text = [param or TEXT for param in substituted.param_types]
        retried = self.server.prepare(substituted.query, as_text, describe)
        return retried if retried.ok or retried.code in REFERENCE_ERRORS else outcome

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
        elif self._found_in_own_schema(outcome, substituted):
            reason = (
                f"finds {outcome.missing} only with schema {self.routine.schema} on the "
                "search_path, which the function does not set: its callers' decides"
            )
        else:
            self._finding(line, outcome, context)
            return
        self.skipped.append(Skipped(self.routine.label, line, reason))

    def _found_in_own_schema(self, outcome: Outcome, substituted: Substituted) -> bool:
        """Whether a name the server missed is in the function's schema, off the search_path."""
        if self.routine.search_path is not None or outcome.code not in OWN_SCHEMA_ERRORS:
            return False
        search_path = self.server.own_schema_first(self.routine.schema)
        if search_path == self.server.default_search_path:
            return False
        query, types = substituted.query, substituted.param_types
        return self.server.prepare_in(search_path, query, types).ok

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
