"""Whether a rule fits its column: one decision, wherever the column is known from (the
catalog of the database about to be masked, or a dump's CREATE TABLE)."""

from __future__ import annotations

from dataclasses import dataclass

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
