"""Masking rules checked against a dump's schema: one line for what the dump certainly
lacks, or certainly does not fit, before any database is created for it."""

from __future__ import annotations

import difflib

from prodclone.errors import SettingsError
from prodclone.mask.dumpschema import DumpTables, Name
from prodclone.mask.fit import fit_problem, foreign_key_problem
from prodclone.mask.rules import ENV_VAR, KEY, MaskRules, bad_rule


def check_rules_in_dump(
    rules: MaskRules, tables: DumpTables, where: str, way_out: str = ""
) -> None:
    """One line for the first rule naming a table or column `tables` certainly lacks, a
    column its strategy certainly does not fit, or one end only of a foreign key.

    `where` names the dump in the message ("prod-....dump"); `way_out`, when
    given, is said after the usual fix.
    """
    wanted: list[tuple[str, Name, str | None]] = [
        (t.key, (t.schema, t.table), None) for t in rules.tables
    ]
    wanted += [(r.key, (r.schema, r.table), r.column) for r in rules.columns]
    for key, table, column in wanted:
        problem = _missing(tables, table, column)
        if problem:
            raise bad_rule(
                key, f"{where} has {problem}", fix="fix the key or remove the rule", after=way_out
            )
    for rule in rules.columns:
        facts = (tables.columns.get((rule.schema, rule.table)) or {}).get(rule.column)
        problem = fit_problem(rule.strategy, facts) if facts is not None else ""
        if problem:
            raise bad_rule(rule.key, f"in {where}, {problem}", after=way_out)
    problem = foreign_key_problem(rules, tables.foreign_keys)
    if problem:
        raise SettingsError(
            f"{KEY}: in {where}, {problem}; fix it in invoke.yaml (prodclone: mask: rules:) "
            f"or in {ENV_VAR}{way_out}"
        )


def _missing(tables: DumpTables, table: Name, column: str | None) -> str:
    label = f"{table[0]}.{table[1]}"
    if table not in tables.columns:
        if table in tables.others:
            return f"{label} as {tables.others[table]}: masking changes tables only"
        if not tables.complete:
            return ""
        return f"no table {label}{_near_table(table, list(tables.columns))}"
    columns = tables.columns[table]
    if column is None or columns is None or column in columns:
        return ""
    return f"no column {column!r} in {label}{_near(column, sorted(columns))}"


def _near_table(table: Name, names: list[Name]) -> str:
    """A table of a close name in the same schema, or of the same name in another."""
    same_schema = [t for s, t in names if s == table[0]]
    close = difflib.get_close_matches(table[1], same_schema, n=1, cutoff=0.75)
    if close:
        return f" (did you mean '{table[0]}.{close[0]}'?)"
    elsewhere = sorted(f"{s}.{t}" for s, t in names if t == table[1])
    return f" (did you mean {elsewhere[0]!r}?)" if elsewhere else ""


def _near(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""
