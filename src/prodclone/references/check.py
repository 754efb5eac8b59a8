"""Every SQL and PL/pgSQL function of a database checked against its current catalog."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import psycopg
from pglast import parser

from prodclone.references.catalog import Routine, read_routines
from prodclone.references.literals import renamed_literals
from prodclone.references.model import Finding, ReferenceReport, Skipped
from prodclone.references.names import Renames
from prodclone.references.plpgsql import FunctionCheck
from prodclone.references.server import Server
from prodclone.references.sqlfunctions import check_sql_function
from prodclone.references.tree import parse


def check_references(
    conn: psycopg.Connection[Any], label: str, renames: Renames | None = None
) -> ReferenceReport:
    """Check every function; `renames` (from a pre-migration baseline) explains findings."""
    started = time.monotonic()
    server = Server(conn)
    report = ReferenceReport(database=label)
    routines = read_routines(conn)
    # Functions sharing a search_path run together: one SET for each group.
    routines.sort(key=lambda routine: routine.search_path or "")
    schemas = {str(row[0]) for row in conn.execute("SELECT nspname FROM pg_namespace")}
    checks: list[FunctionCheck] = []
    try:
        for routine in routines:
            checks += _check_one(server, routine, report, schemas)
            if renames is not None:
                report.warnings += renamed_literals(routine, renames)
        server.drain()
    finally:
        server.close()
    for check in checks:
        report.statements += check.statements
        report.findings += _unique(check.findings)
        report.not_checked += list(dict.fromkeys(check.skipped))
    if renames is not None:
        report.findings = [_explained(finding, renames) for finding in report.findings]
    report.findings.sort(key=lambda finding: (finding.function, finding.line))
    report.not_checked.sort(key=lambda item: (item.function, item.line))
    report.seconds = time.monotonic() - started
    return report


def _check_one(
    server: Server, routine: Routine, report: ReferenceReport, schemas: set[str]
) -> list[FunctionCheck]:
    """Checks SQL functions here; a PL/pgSQL one's results arrive later (Server.submit)."""
    if routine.atomic:
        return []  # BEGIN ATOMIC: PostgreSQL tracks what such a body depends on itself
    report.functions += 1
    if routine.language == "sql":
        report.sql += 1
        report.statements += 1
        findings, skipped = check_sql_function(server, routine)
        report.findings += findings
        report.not_checked += skipped
        return []
    report.plpgsql += 1
    try:
        function = parse(routine, schemas)
    except parser.ParseError as exc:
        report.not_checked.append(Skipped(routine.label, 1, f"cannot parse the body: {exc}"))
        return []
    check = FunctionCheck(server, routine, function)
    try:
        check.run()
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        # A parse tree shape this check does not know: say so rather than stop the gate.
        reason = f"not followed by this check ({type(exc).__name__}: {exc})"
        check.skipped.append(Skipped(routine.label, 1, reason))
    return [check]


def _unique(findings: list[Finding]) -> list[Finding]:
    """A stale name seen once per trigger table, or twice on one line, is reported once."""
    seen: dict[tuple[int, str, str, int, str], Finding] = {}
    for finding in findings:
        seen.setdefault(
            (finding.oid, finding.code, finding.missing, finding.line, finding.context), finding
        )
    return list(seen.values())


def _explained(finding: Finding, renames: Renames) -> Finding:
    return replace(finding, renamed_to=renames.explain(finding.missing))


def split_preexisting(after: ReferenceReport, before: ReferenceReport) -> ReferenceReport:
    """Move to `preexisting` every finding the pre-migration database had already."""
    old_keys = {finding.key for finding in before.findings}
    old_labels = {(finding.function, finding.code, finding.missing) for finding in before.findings}
    new: list[Finding] = []
    old: list[Finding] = []
    for finding in after.findings:
        label_key = (finding.function, finding.code, finding.missing)
        (old if finding.key in old_keys or label_key in old_labels else new).append(finding)
    after.findings, after.preexisting = new, old
    return after
