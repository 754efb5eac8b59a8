"""What the schema gate tells people: the differences, what each kind of them means, what
ignore rules hid. The terminal gets the first screenful; the report gets everything."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prodclone.schema import Difference, DiffResult, render_hidden, render_text

# About one screen of differences in the terminal; the report has the rest.
TERMINAL_LINES = 40
# Hidden objects listed per rule in the terminal (owners alone can hide hundreds).
TERMINAL_HIDDEN_PER_RULE = 5
_NAMES_SHOWN = 3
IGNORE_KEY = "prodclone.schema_diff.ignore"


@dataclass
class GateText:
    summary: str
    details: list[str] = field(default_factory=list)
    terminal: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


def gate_text(result: DiffResult, clone: str, fresh: str, report: Path) -> GateText:
    """The stage's summary, report lines, terminal lines and figures for `result`."""
    hidden_all = render_hidden(result)
    figures: dict[str, Any] = {
        "differences": len(result.differences),
        "objects": len(result.differing_objects()),
        "by_kind": result.objects_by_kind(),
        "hidden": result.hidden_count,
        "hidden_by_rule": result.hidden_by_rule(),
        "hidden_items": [_item(d) for d in result.hidden],
    }
    terminal_hidden = render_hidden(result, TERMINAL_HIDDEN_PER_RULE)
    if not result.differences:
        return GateText(result.summary(), hidden_all, terminal_hidden, figures)
    # render_text ends with the summary line, which the stage's summary already is.
    listing = render_text(result).rstrip("\n").splitlines()[:-1]
    while listing and not listing[-1].strip():
        listing.pop()
    advice = _advice(result, clone, fresh)
    details = [*advice, "", *listing]
    if hidden_all:
        details += ["", *hidden_all]
    terminal = listing[:TERMINAL_LINES]
    if len(listing) > TERMINAL_LINES:
        terminal.append(
            f"... {len(listing) - TERMINAL_LINES} more lines: {report} (all in report.json)"
        )
    terminal += ["", *advice]
    if terminal_hidden:
        terminal += ["", *terminal_hidden]
    summary = f"{result.summary()}: production's schema is not what the migrations produce"
    return GateText(summary, details, terminal, figures)


def _item(difference: Difference) -> dict[str, Any]:
    return {
        "kind": difference.kind,
        "name": difference.name,
        "change": difference.change,
        "attribute": difference.attribute,
        "hidden_by": difference.hidden_by,
    }


def _advice(result: DiffResult, clone: str, fresh: str) -> list[str]:
    """One paragraph per kind of difference found, saying what it usually means."""
    lines = [
        f"a is {clone} (production's schema, migrated); b is {fresh} (what the migrations "
        "alone produce)."
    ]
    only_a = _objects(result, "only in a")
    only_b = _objects(result, "only in b")
    pairs = _renames(only_a, only_b)
    for old, new in pairs:
        where = f" on {old.parent}" if old.parent else ""
        lines.append(
            f"- {old.kind} {old.name} only in a and {new.name} only in b{where}: likely one "
            "object under two names. A migration step that looked for it by its expected name "
            "(IF EXISTS, a DO block, a catalog lookup) skipped it on production; rename by what "
            "the object is, not by its expected name."
        )
    paired = {id(d) for pair in pairs for d in pair}
    rest_a = [d for d in only_a if id(d) not in paired]
    rest_b = [d for d in only_b if id(d) not in paired]
    if rest_a:
        first = rest_a[0]
        rule = f"{first.kind.replace(' ', '-')}:{first.name}"
        lines.append(
            f"- only in a (production): {_names(rest_a)}. Drift no migration makes (a hotfix, "
            "an index made by hand, an edited old migration, a name from an older PostgreSQL): "
            "codify it in a migration, drop it on production, or, where production may keep "
            f"it, hide it with a rule in {IGNORE_KEY} (for example {rule!r})."
        )
    if rest_b:
        lines.append(
            f"- only in b (fresh): {_names(rest_b)}. The migrations make it, but production "
            "lacks it after migrating: a migration step was skipped on production (IF NOT "
            "EXISTS or IF EXISTS that met something else, a DO block or a data-dependent "
            "branch, a migration recorded as applied that never ran there)."
        )
    changed = _objects(result, "changed")
    if changed:
        lines.append(
            f"- changed: {_names(changed)}. The attributes shown differ: production was "
            "changed by hand, or a migration behaved differently on production's state (an "
            "edited old migration, a data-dependent step). Make the migrations produce "
            "production's version, or production the migrations' one."
        )
    return lines


def _objects(result: DiffResult, change: str) -> list[Difference]:
    """The first difference of each object with `change`, in report order."""
    seen: dict[tuple[str, str], Difference] = {}
    for difference in result.differences:
        if difference.change == change:
            seen.setdefault((difference.kind, difference.name), difference)
    return list(seen.values())


def _renames(only_a: list[Difference], only_b: list[Difference]) -> list[tuple[Difference, ...]]:
    """An object only in a and one only in b that are the same but for their names, on the
    same table: a missed rename."""
    pairs: list[tuple[Difference, ...]] = []
    taken: set[int] = set()
    for old in only_a:
        new = next(
            (
                d
                for d in only_b
                if id(d) not in taken
                and d.kind == old.kind
                and d.parent is not None
                and d.parent == old.parent
                and d.signature is not None
                and d.signature == old.signature
            ),
            None,
        )
        if new is not None:
            taken.add(id(new))
            pairs.append((old, new))
    return pairs


def _names(differences: list[Difference]) -> str:
    shown = [f"{d.kind} {d.name}" for d in differences[:_NAMES_SHOWN]]
    more = len(differences) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")
