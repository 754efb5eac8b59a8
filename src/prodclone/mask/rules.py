"""`prodclone.mask.rules` as checked data: a mistake is one line naming the rule."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prodclone.errors import SettingsError

KEY = "prodclone.mask.rules"
# Spelled out: the settings package reads these rules, so it cannot be imported here.
ENV_VAR = "INVOKE_PRODCLONE_MASK_RULES"
# Strategies a column takes by name alone.
SIMPLE = ("email", "name", "digits", "text", "null", "redact", "hash", "keep")
# Strategies given as a one-key mapping: {constant: value}, {sql: expr}, {json: {path: rule}}.
WITH_VALUE = ("constant", "sql", "json")
# Strategies inside a json rule (a value at a path).
IN_JSON = ("email", "name", "digits", "text", "null", "redact", "hash")
ALL = (*SIMPLE, *WITH_VALUE, "truncate")
_PATH = re.compile(r"^\$((?:\.[A-Za-z0-9_]+)+)$")


@dataclass(frozen=True)
class ColumnRule:
    schema: str
    table: str
    column: str
    strategy: str
    value: str = ""  # constant's value, sql's expression
    json_paths: tuple[tuple[tuple[str, ...], str], ...] = ()

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.table}.{self.column}"


@dataclass(frozen=True)
class TableRule:
    schema: str
    table: str
    strategy: str  # truncate or keep

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class MaskRules:
    columns: tuple[ColumnRule, ...] = ()
    tables: tuple[TableRule, ...] = ()
    digest: str = ""  # sha256 of the rules as written, recorded with each masked dump
    raw: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __bool__(self) -> bool:
        return bool(self.columns or self.tables)

    def covers(self, schema: str, table: str, column: str) -> bool:
        """Whether a column has a rule (keep included), or its whole table has one."""
        if any(t.schema == schema and t.table == table for t in self.tables):
            return True
        return any(
            r.schema == schema and r.table == table and r.column == column for r in self.columns
        )

    @property
    def masked_columns(self) -> tuple[ColumnRule, ...]:
        return tuple(r for r in self.columns if r.strategy != "keep")

    @property
    def truncated(self) -> tuple[TableRule, ...]:
        return tuple(t for t in self.tables if t.strategy == "truncate")


def bad_rule(key: str, problem: str, fix: str = "fix it", after: str = "") -> SettingsError:
    """The one line for a rule that cannot be used: the rule, what is wrong, where to fix it."""
    return SettingsError(
        f"{KEY} {key!r}: {problem}; {fix} in invoke.yaml (prodclone: mask: rules:) "
        f"or in {ENV_VAR}{after}"
    )


def parse_rules(raw: Mapping[str, Any]) -> MaskRules:
    columns: list[ColumnRule] = []
    tables: list[TableRule] = []
    for key, rule in raw.items():
        parts = str(key).split(".")
        if len(parts) not in (2, 3) or not all(parts):
            raise bad_rule(
                str(key), "name a column as schema.table.column (or a table as schema.table)"
            )
        if len(parts) == 2:
            if rule not in ("truncate", "keep"):
                raise bad_rule(str(key), f"a whole table takes truncate or keep (got {rule!r})")
            tables.append(TableRule(parts[0], parts[1], str(rule)))
            continue
        columns.append(_column_rule(str(key), parts, rule))
    canonical = json.dumps(raw, sort_keys=True, default=str, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest() if raw else ""
    return MaskRules(tuple(columns), tuple(tables), digest, dict(raw))


def _column_rule(key: str, parts: list[str], rule: Any) -> ColumnRule:
    schema, table, column = parts
    if isinstance(rule, str):
        if rule == "truncate":
            raise bad_rule(key, "truncate empties a whole table: name it as schema.table")
        if rule not in SIMPLE:
            raise bad_rule(key, f"unknown strategy {rule!r}; one of {', '.join(ALL)}")
        return ColumnRule(schema, table, column, rule)
    if not isinstance(rule, Mapping) or len(rule) != 1:
        raise bad_rule(
            key,
            f"a rule is a strategy name or one of {{constant: v}}, {{sql: expr}}, "
            f"{{json: {{path: strategy}}}} (got {rule!r})",
        )
    (kind, value), *_ = rule.items()
    if kind == "constant":
        if value is not None and not isinstance(value, str | int | float):
            raise bad_rule(key, f"constant takes a single value (got {value!r})")
        return ColumnRule(schema, table, column, "constant", "" if value is None else str(value))
    if kind == "sql":
        if not isinstance(value, str) or not value.strip():
            raise bad_rule(key, "sql takes an SQL expression as text")
        _check_expression(key, value)
        return ColumnRule(schema, table, column, "sql", value.strip())
    if kind == "json":
        return ColumnRule(schema, table, column, "json", json_paths=_json_paths(key, value))
    raise bad_rule(key, f"unknown strategy {kind!r}; one of {', '.join(ALL)}")


def _json_paths(key: str, value: Any) -> tuple[tuple[tuple[str, ...], str], ...]:
    if not isinstance(value, Mapping) or not value:
        raise bad_rule(key, 'json takes a mapping of paths to strategies, e.g. {"$.phone": digits}')
    paths = []
    for path, strategy in value.items():
        found = _PATH.match(str(path))
        if not found:
            raise bad_rule(key, f"json path {path!r} must look like $.field or $.field.sub")
        if strategy not in IN_JSON:
            raise bad_rule(
                key, f"unknown strategy {strategy!r} at {path}; one of {', '.join(IN_JSON)}"
            )
        paths.append((tuple(found.group(1).split(".")[1:]), str(strategy)))
    return tuple(paths)


def _check_expression(key: str, expression: str) -> None:
    """The expression is parsed as PostgreSQL does, so a typo stops before anything is made."""
    import pglast

    try:
        statements = pglast.parse_sql(f"SELECT ({expression})")
    except pglast.parser.ParseError as exc:
        raise bad_rule(key, f"sql expression does not parse: {exc}") from None
    if len(statements) != 1:
        raise bad_rule(key, "sql takes one expression, not statements")
