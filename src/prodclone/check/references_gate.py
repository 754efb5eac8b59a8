"""The reference gate of refactor-check: function bodies against the migrated catalog.

The baseline stage reads the clone's names by OID and its own broken references before
migrating; this stage checks again after the migration. Only what the migration broke
fails it: production's older breakage is listed apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prodclone.check.model import StageResult
from prodclone.errors import ProdcloneError

if TYPE_CHECKING:
    from prodclone.check.stages import StageContext


def take_baseline(context: StageContext) -> str:
    """Names and broken references before the migration; a summary for the baseline stage."""
    from prodclone.references import check_references, read_names

    with context.server.connect(context.clone) as conn:
        context.names_before = read_names(conn)
        context.references_before = check_references(conn, context.clone)
    return context.references_before.summary()


def references(context: StageContext, stage: StageResult) -> None:
    from prodclone.references import (
        check_references,
        read_names,
        renames_between,
        split_preexisting,
    )
    from prodclone.references.render import render_text

    before, names_before = context.references_before, context.names_before
    if before is None or names_before is None:
        raise ProdcloneError("the baseline stage did not read the pre-migration references")
    with context.server.connect(context.clone) as conn:
        renames = renames_between(names_before, read_names(conn))
        report = split_preexisting(check_references(conn, context.clone, renames), before)
    stage.figures = report.as_dict()
    lines = render_text(report).splitlines()[2:]  # the summary is the stage's own
    if not report.findings:
        stage.passed(report.summary())
        stage.details.extend(lines)
        return
    first = report.findings[0].text()
    more = f" (and {len(report.findings) - 1} more)" if len(report.findings) > 1 else ""
    stage.fail(
        f"{len(report.findings)} reference(s) in function bodies broken by this migration: "
        f"{first}{more}",
        *lines,
    )
