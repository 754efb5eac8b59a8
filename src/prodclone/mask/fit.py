"""Whether a rule fits its column, and foreign keys their rules: one decision, wherever
the columns are known from (the catalog of the database about to be masked, or a dump's
schema)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prodclone.mask.rules import ColumnRule, MaskRules

# A foreign key, column by column: the referencing column's key, the referenced column's
# key (each schema.table.column), and the constraint's name.
ForeignKey = tuple[str, str, str]

# Strategies that write text into the column.
_TEXT = ("email", "name", "text", "hash", "redact")


@dataclass(frozen=True)
class ColumnFacts:
    type_name: str | None  # as format_type() writes it; None: not known
    category: str | None  # pg_type.typcategory; None: not known
    not_null: bool = False
    generated: bool = False


def fit_problem(strategy: str, column: ColumnFacts) -> str:
    """What keeps `strategy` off `column`, or "". What is not known is never held against it."""
    if column.generated and strategy != "keep":
        return "a generated column cannot be set; mask the columns it is computed from"
    if strategy == "null" and column.not_null:
        return "null on a NOT NULL column; choose redact, constant or another strategy"
    if column.type_name is None:
        return ""
    if strategy == "json" and column.type_name not in ("json", "jsonb"):
        return f"json rules need a json or jsonb column (it is {column.type_name})"
    if column.category is None:
        return ""
    if strategy == "digits" and column.category not in ("S", "N"):
        return f"digits needs a text or number column (it is {column.type_name})"
    if strategy in _TEXT and column.category != "S":
        return f"{strategy} needs a text column (it is {column.type_name})"
    return ""


def foreign_key_problem(rules: MaskRules, keys: Iterable[ForeignKey]) -> str:
    """Masked values still join only if both ends of a key are masked the same way."""
    by_key = {r.key: r for r in rules.columns}
    truncated = {t.key for t in rules.truncated}
    for own, other, name in keys:
        if own.rsplit(".", 1)[0] in truncated:
            continue
        mine, theirs = by_key.get(own), by_key.get(other)
        masked = [r for r in (mine, theirs) if r is not None and r.strategy != "keep"]
        if not masked:
            continue
        if mine is None or theirs is None or _same(mine) != _same(theirs):
            return (
                f"{own} references {other} (foreign key {name}): give both the same rule, "
                "or their masked values no longer join"
            )
    return ""


def _same(rule: ColumnRule) -> tuple[str, str, tuple[tuple[tuple[str, ...], str], ...]]:
    return (rule.strategy, rule.value, rule.json_paths)
