"""The reference check as text (for people) or JSON (for tools)."""

from __future__ import annotations

import json

from prodclone.references.model import ReferenceReport


def render_text(report: ReferenceReport) -> str:
    lines = [f"references in {report.database}: {report.summary()}"]
    sections = (
        ("Broken references", [finding.text() for finding in report.findings]),
        (
            "Broken before the migration too (production's own, not failing)",
            [finding.text() for finding in report.preexisting],
        ),
        (
            "Warnings: strings that name what the migration renamed",
            [warning.text() for warning in report.warnings],
        ),
        ("Not checked", [item.text() for item in report.not_checked]),
    )
    for title, items in sections:
        if items:
            lines += ["", f"{title}:", *(f"  {item}" for item in items)]
    return "\n".join(lines) + "\n"


def render_json(report: ReferenceReport) -> str:
    return json.dumps(report.as_dict(), indent=2) + "\n"
