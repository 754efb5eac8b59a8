"""The result as text for people and as versioned JSON for CI."""

from __future__ import annotations

import difflib
import json
from itertools import groupby
from typing import Any

from prodclone.schema.ignore import DUMP_KIND
from prodclone.schema.model import Difference, Value
from prodclone.schema.result import DiffResult

JSON_FORMAT = "prodclone.schema-diff"
JSON_FORMAT_VERSION = 1
_INLINE_WIDTH = 60
_NOT_MODELLED_SHOWN = 20


def render_text(result: DiffResult) -> str:
    """Differences grouped by kind, attribute by attribute, then the one-line summary."""
    lines: list[str] = []
    if result.differences:
        lines.append(f"a: {result.a_label}")
        lines.append(f"b: {result.b_label}")
    for kind, group in groupby(result.differences, key=lambda d: d.kind):
        members = list(group)
        lines.append("")
        lines.append(f"{kind} ({len({d.name for d in members})})")
        for name, changes in groupby(members, key=lambda d: d.name):
            lines.extend(_object_lines(name, list(changes)))
    if result.not_modelled:
        lines.append("")
        lines.append(
            f"{len(result.not_modelled)} objects of kinds the model does not cover were "
            "compared by identity"
            + (" and by the pg_dump -s cross-check:" if result.cross_checked else ":")
        )
        lines.extend(f"  {name}" for name in result.not_modelled[:_NOT_MODELLED_SHOWN])
        if len(result.not_modelled) > _NOT_MODELLED_SHOWN:
            lines.append(f"  ... and {len(result.not_modelled) - _NOT_MODELLED_SHOWN} more")
    if lines:
        lines.append("")
    lines.append(result.summary())
    return "\n".join(lines) + "\n"


def render_hidden(result: DiffResult, per_rule: int | None = None) -> list[str]:
    """What the ignore rules hid, rule by rule: `per_rule` objects each, then a count."""
    lines: list[str] = []
    for rule, group in groupby(sorted(result.hidden, key=_by_rule), key=lambda d: d.hidden_by):
        members = list(group)
        lines.append(f"hidden by {rule} ({len(members)}):")
        shown = members if per_rule is None else members[:per_rule]
        lines.extend(f"  {_hidden_line(d)}" for d in shown)
        if len(shown) < len(members):
            lines.append(f"  ... and {len(members) - len(shown)} more")
    return lines


def _by_rule(difference: Difference) -> tuple[str, tuple[str, str, str, str]]:
    return (difference.hidden_by or "", difference.sort_key())


def _hidden_line(difference: Difference) -> str:
    what = difference.attribute if difference.change == "changed" else difference.change
    return f"{difference.kind} {difference.name}: {what}"


def _object_lines(name: str, changes: list[Difference]) -> list[str]:
    first = changes[0]
    if first.change != "changed":
        note = f" ({first.note})" if first.note else ""
        lines = [f"  {name}: {first.change}{note}"]
        if first.kind == DUMP_KIND:
            lines.extend(_unified(first.a, first.b, indent="    "))
        return lines
    lines = [f"  {name}" + (f" ({first.note})" if first.note else "")]
    for change in changes:
        lines.extend(_attribute_lines(change))
    return lines


def _attribute_lines(change: Difference) -> list[str]:
    label = f"    {change.attribute}:"
    a, b = change.a, change.b
    if isinstance(a, list) or isinstance(b, list):
        return [label, *_list_lines(a, b)]
    if _is_long(a) or _is_long(b) or change.kind == DUMP_KIND:
        return [label, *_unified(a, b, indent="      ")]
    return [f"{label} a {_show(a)} | b {_show(b)}"]


def _list_lines(a: Value, b: Value) -> list[str]:
    left = a if isinstance(a, list) else []
    right = b if isinstance(b, list) else []
    only_a = [item for item in left if item not in right]
    only_b = [item for item in right if item not in left]
    if not only_a and not only_b:
        return [f"      order: a {_show(left)}", f"             b {_show(right)}"]
    lines = [f"      only in a: {item}" for item in only_a]
    lines += [f"      only in b: {item}" for item in only_b]
    return lines


def _unified(a: Value, b: Value, indent: str) -> list[str]:
    left = _text(a).splitlines()
    right = _text(b).splitlines()
    diff = difflib.unified_diff(left, right, fromfile="a", tofile="b", lineterm="", n=2)
    return [indent + line for line in diff]


def _is_long(value: Value) -> bool:
    return isinstance(value, str) and ("\n" in value.strip() or len(value) > _INLINE_WIDTH)


def _text(value: Value) -> str:
    return "" if value is None else str(value)


def _show(value: Value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return "[" + ", ".join(value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else repr(value)


def render_json(result: DiffResult) -> str:
    """The versioned JSON document described in docs/schema-diff.md, keys and lists sorted."""
    document: dict[str, Any] = {
        "format": JSON_FORMAT,
        "version": JSON_FORMAT_VERSION,
        "a": result.a_label,
        "b": result.b_label,
        "server_version": result.server_version,
        "identical": not result.differences,
        "exit_code": result.exit_code,
        "summary": {
            "text": result.summary(),
            "differences": len(result.differences),
            "by_kind": result.counts_by_kind(),
            "objects": len(result.differing_objects()),
            "objects_by_kind": result.objects_by_kind(),
            "hidden": result.hidden_count,
            "hidden_by_rule": result.hidden_by_rule(),
            "objects_compared": result.objects_compared(),
        },
        "differences": [_difference(d) for d in result.differences],
        "hidden": [_difference(d) for d in result.hidden],
        "coverage": {
            "kinds": {
                kind: {"a": count.a, "b": count.b} for kind, count in result.coverage.items()
            },
            "not_modelled": result.not_modelled,
            "pg_dump_cross_check": result.cross_checked,
        },
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _difference(difference: Difference) -> dict[str, Any]:
    return {
        "kind": difference.kind,
        "name": difference.name,
        "change": difference.change,
        "attribute": difference.attribute,
        "a": difference.a,
        "b": difference.b,
        "note": difference.note,
        "hidden_by": difference.hidden_by,
    }
