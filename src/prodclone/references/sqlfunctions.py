"""SQL-language bodies, validated by PostgreSQL the way CREATE FUNCTION would validate them."""

from __future__ import annotations

from prodclone.references.catalog import Routine
from prodclone.references.model import Finding, Skipped
from prodclone.references.server import REFERENCE_ERRORS, Server
from prodclone.references.substitute import created_relations


def check_sql_function(server: Server, routine: Routine) -> tuple[list[Finding], list[Skipped]]:
    outcome = server.validate_sql_function(routine.oid, routine.search_path)
    if outcome.ok:
        return [], []
    line = routine.source[: max(outcome.position - 1, 0)].count("\n") + 1
    missing = outcome.missing
    if outcome.code not in REFERENCE_ERRORS:
        reason = f"not checkable ({outcome.code}: {outcome.message})"
    elif outcome.code == "42P01" and missing.rsplit(".", 1)[-1] in created_relations(
        routine.source
    ):
        reason = f"uses table {missing}, which the function creates itself"
    elif (
        routine.search_path is None
        and server.validate_sql_function(routine.oid, server.own_schema_first(routine.schema)).ok
    ):
        reason = (
            f"finds {missing} only with schema {routine.schema} on the search_path, which "
            "the function does not set: its callers' decides"
        )
    else:
        finding = Finding(routine.oid, routine.label, line, missing, outcome.message, outcome.code)
        return [finding], []
    return [], [Skipped(routine.label, line, reason)]
