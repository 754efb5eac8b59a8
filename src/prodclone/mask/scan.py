"""Columns that look personal: by their name, or by what a sample of their values holds."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from prodclone.mask.rules import MaskRules

# Name fragments, and the strategy a finding of that kind is given in the printed block.
_BY_NAME: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"e_?mail"), "email", "email"),
    (re.compile(r"phone|mobile|msisdn|fax"), "phone", "digits"),
    (re.compile(r"iban|account_?n(umbe)?r|bank"), "bank account", "digits"),
    (re.compile(r"ssn|social_?sec|passport|national_?id|tax_?id|vat"), "national id", "digits"),
    (re.compile(r"card_?n(umbe)?r|\bpan\b|cc_?n"), "card number", "digits"),
    (re.compile(r"birth|\bdob\b"), "birth date", "null"),
    (re.compile(r"(^|_)(first|last|full|middle|sur|given|family|maiden)_?name"), "name", "name"),
    (re.compile(r"^name$|contact_?name|customer_?name|person"), "name", "name"),
    (re.compile(r"address|street|city|zip|postal|postcode"), "address", "text"),
    (re.compile(r"(^|_)ip(_?addr(ess)?)?$|remote_?addr"), "ip address", "hash"),
    (re.compile(r"token|secret|password|passwd|api_?key"), "secret", "hash"),
    (re.compile(r"geo|latitude|longitude|(^|_)lat$|(^|_)lng$"), "location", "null"),
)
_TEXT_TYPES = ("S",)
SAMPLE_ROWS = 200
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
_PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9 ]{11,30}$")
_CARD = re.compile(r"^[\d -]{13,23}$")


@dataclass(frozen=True)
class Finding:
    schema: str
    table: str
    column: str
    why: str  # "name looks like email", "values look like emails (12 of 20)"
    strategy: str

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.table}.{self.column}"


def by_name(name: str) -> tuple[str, str] | None:
    lowered = name.lower()
    for pattern, kind, strategy in _BY_NAME:
        if pattern.search(lowered):
            return kind, strategy
    return None


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char)
        if index % 2:
            number = number * 2 - 9 if number > 4 else number * 2
        total += number
    return total % 10 == 0


def by_content(values: Iterable[str | None]) -> tuple[str, str] | None:
    """What most of a sample's values look like, if they look personal."""
    seen = [v.strip() for v in values if v and v.strip()]
    if not seen:
        return None
    counts = {"emails": 0, "card numbers": 0, "IBANs": 0, "phone numbers": 0}
    for value in seen:
        digits = re.sub(r"\D", "", value)
        if _EMAIL.match(value):
            counts["emails"] += 1
        elif _CARD.match(value) and 13 <= len(digits) <= 19 and luhn_ok(digits):
            counts["card numbers"] += 1
        elif _IBAN.match(value.upper()):
            counts["IBANs"] += 1
        elif _PHONE.match(value) and 7 <= len(digits) <= 15 and not value.isdigit():
            counts["phone numbers"] += 1
    kind, count = max(counts.items(), key=lambda item: item[1])
    if count * 2 < len(seen):
        return None
    strategy = {"emails": "email"}.get(kind, "digits")
    return f"values look like {kind} ({count} of {len(seen)} sampled)", strategy


def scan(conn: psycopg.Connection, content: bool = True) -> list[Finding]:
    """Every column of every user table that looks personal, in catalog order."""
    rows = conn.execute(
        """
        SELECT n.nspname, c.relname, a.attname, t.typcategory
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_type t ON t.oid = a.atttypid
        WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
          AND NOT c.relispartition
        ORDER BY n.nspname, c.relname, a.attnum
        """
    ).fetchall()
    found: list[Finding] = []
    unnamed: dict[tuple[str, str], list[str]] = {}
    for schema, table, column, category in rows:
        named = by_name(column)
        if named:
            found.append(Finding(schema, table, column, f"name looks like {named[0]}", named[1]))
        elif content and category in _TEXT_TYPES:
            unnamed.setdefault((schema, table), []).append(column)
    for (schema, table), columns in unnamed.items():
        values = _sample(conn, schema, table, columns)
        for index, column in enumerate(columns):
            looks = by_content(row[index] for row in values)
            if looks:
                found.append(Finding(schema, table, column, looks[0], looks[1]))
    order = {(r[0], r[1], r[2]): n for n, r in enumerate(rows)}
    found.sort(key=lambda f: order[(f.schema, f.table, f.column)])
    return found


def _sample(
    conn: psycopg.Connection, schema: str, table: str, columns: list[str]
) -> list[tuple[str, ...]]:
    """The first rows of a table, all its columns at once: one cheap read per table,
    never a scan for the non-NULL values of a mostly empty column."""
    picked = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns)
    query = sql.SQL("SELECT {} FROM {} LIMIT {}").format(
        picked, sql.Identifier(schema, table), sql.Literal(SAMPLE_ROWS)
    )
    return conn.execute(query).fetchall()


def without_rule(findings: list[Finding], rules: MaskRules) -> list[Finding]:
    return [f for f in findings if not rules.covers(f.schema, f.table, f.column)]


def warning_lines(findings: list[Finding]) -> list[str]:
    """One line per column that looks personal and has no rule: how new columns leak."""
    return [
        f"warning: {f.key} looks personal ({f.why}) and has no rule in prodclone.mask.rules; "
        f"add one (`{f.strategy}`, or `keep` if it is not personal); `inv db.scan-pii` lists them"
        for f in findings
    ]


def yaml_block(findings: list[Finding]) -> list[str]:
    """A `mask:` block to paste under `prodclone:` in invoke.yaml."""
    if not findings:
        return ["# no column looks personal"]
    lines = ["mask:", "  rules:"]
    lines += [f"    {f.key}: {_yaml_value(f.strategy)}  # {f.why}" for f in findings]
    return lines


def _yaml_value(strategy: str) -> str:
    return '"null"' if strategy == "null" else strategy
