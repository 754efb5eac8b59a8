"""Masking one database in place: check the rules against its catalog, sample, mask, verify.

Everything runs in one transaction with `session_replication_role = replica`
(the app's triggers, foreign key triggers included, do not fire): either every
rule is applied and verified, or nothing changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from prodclone.errors import ProdcloneError, SettingsError
from prodclone.mask import strategies
from prodclone.mask.fit import ColumnFacts, fit_problem, foreign_key_problem
from prodclone.mask.rules import ENV_VAR, KEY, ColumnRule, MaskRules, bad_rule

# Rows sampled per table before masking, then looked up again after it.
SAMPLE_ROWS = 1000
# Built-in strategies never leave an original value; constant and sql are the user's.
_CHECKED = ("email", "name", "digits", "text", "hash", "redact", "null", "json")


@dataclass(frozen=True)
class Column:
    schema: str
    table: str
    name: str
    type_name: str
    category: str
    not_null: bool
    generated: bool = False


@dataclass(frozen=True)
class TableOutcome:
    schema: str
    table: str
    rows: int
    columns: tuple[str, ...]
    sampled: int
    survived: dict[str, int]
    seconds: float

    def line(self) -> str:
        left = sum(self.survived.values())
        return (
            f"    masked {self.schema}.{self.table}: {self.rows} rows, "
            f"{len(self.columns)} column(s) ({', '.join(self.columns)}) in {self.seconds:.1f}s; "
            f"checked {self.sampled} sampled rows: {left} original values left"
        )


@dataclass(frozen=True)
class MaskOutcome:
    tables: tuple[TableOutcome, ...]
    truncated: tuple[str, ...]
    seconds: float

    def lines(self) -> list[str]:
        lines = [t.line() for t in self.tables]
        lines += [f"    truncated {name}: 0 rows left" for name in self.truncated]
        return lines


def columns_of(conn: psycopg.Connection) -> dict[tuple[str, str, str], Column]:
    rows = conn.execute(
        """
        SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
               t.typcategory, a.attnotnull, a.attgenerated <> ''
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_type t ON t.oid = a.atttypid
        WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
        """
    ).fetchall()
    return {
        (schema, table, name): Column(schema, table, name, type_name, category, not_null, gen)
        for schema, table, name, type_name, category, not_null, gen in rows
    }


def check_rules(conn: psycopg.Connection, rules: MaskRules) -> dict[str, Column]:
    """Every rule names a column (or table) that exists, of a type its strategy fits,
    and a masked foreign key has the same rule on both ends; one line otherwise."""
    columns = columns_of(conn)
    tables = {(c.schema, c.table) for c in columns.values()}
    for table_rule in rules.tables:
        if (table_rule.schema, table_rule.table) not in tables:
            raise bad_rule(
                table_rule.key,
                f"no such table in database {conn.info.dbname!r}",
                fix="fix the key or remove the rule",
            )
    found: dict[str, Column] = {}
    for rule in rules.columns:
        column = columns.get((rule.schema, rule.table, rule.column))
        if column is None:
            what = "table" if (rule.schema, rule.table) not in tables else "column"
            raise bad_rule(
                rule.key,
                f"no such {what} in database {conn.info.dbname!r}",
                fix="fix the key or remove the rule",
            )
        _check_type(rule, column)
        found[rule.key] = column
    _check_foreign_keys(conn, rules)
    return found


def _check_type(rule: ColumnRule, column: Column) -> None:
    facts = ColumnFacts(column.type_name, column.category, column.not_null, column.generated)
    problem = fit_problem(rule.strategy, facts)
    if problem:
        raise bad_rule(rule.key, problem)


def _check_foreign_keys(conn: psycopg.Connection, rules: MaskRules) -> None:
    """Masked values still join only if both ends of a key are masked the same way."""
    rows = conn.execute(
        """
        SELECT cn.nspname || '.' || c.relname || '.' || a.attname,
               fn.nspname || '.' || f.relname || '.' || fa.attname, k.conname
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace cn ON cn.oid = c.relnamespace
        JOIN pg_class f ON f.oid = k.confrelid
        JOIN pg_namespace fn ON fn.oid = f.relnamespace
        CROSS JOIN LATERAL unnest(k.conkey, k.confkey) AS pair(own, other)
        JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = pair.own
        JOIN pg_attribute fa ON fa.attrelid = k.confrelid AND fa.attnum = pair.other
        WHERE k.contype = 'f'
        """
    ).fetchall()
    problem = foreign_key_problem(rules, rows)
    if problem:
        raise SettingsError(
            f"{KEY}: {problem}; fix it in invoke.yaml (prodclone: mask: rules:) or in {ENV_VAR}"
        )


def mask_database(
    conn: psycopg.Connection,
    rules: MaskRules,
    secret: str,
    say: Callable[[str], None] = lambda _line: None,
) -> MaskOutcome:
    """Apply `rules` to the database `conn` is connected to (a non-autocommit connection)."""
    started = time.monotonic()
    columns = check_rules(conn, rules)
    key = strategies.derive_key(secret)
    outcomes: list[TableOutcome] = []
    with conn.transaction():
        # Set-based UPDATEs with the app's triggers quiet; the key stays a parameter.
        conn.execute("SET LOCAL session_replication_role = replica")
        _keep_parameters_out_of_logs(conn)
        truncated = tuple(t.key for t in rules.truncated)
        if truncated:
            names = [sql.Identifier(t.schema, t.table) for t in rules.truncated]
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(names)))
        for number, ((schema, table), table_rules) in enumerate(_by_table(rules).items()):
            outcome = _mask_table(conn, schema, table, table_rules, columns, key, number)
            say(outcome.line())
            outcomes.append(outcome)
        left = {
            f"{o.schema}.{o.table}.{name}": count
            for o in outcomes
            for name, count in o.survived.items()
            if count
        }
        if left:
            detail = ", ".join(f"{name} ({count})" for name, count in left.items())
            raise ProdcloneError(
                f"masking left original values in {detail}; nothing was masked or dumped"
            )
    return MaskOutcome(tuple(outcomes), truncated, time.monotonic() - started)


def _keep_parameters_out_of_logs(conn: psycopg.Connection) -> None:
    """The key is a bind parameter; a server logging statements would log it too.

    Only a superuser may turn that off (the embedded server: yes; RDS: no, and
    its logs go with the throwaway instance), so a refusal is not an error.
    """
    for setting in ("log_parameter_max_length", "log_parameter_max_length_on_error"):
        try:
            with conn.transaction():
                conn.execute(sql.SQL("SET LOCAL {} = 0").format(sql.Identifier(setting)))
        except psycopg.errors.InsufficientPrivilege:
            pass


def _by_table(rules: MaskRules) -> dict[tuple[str, str], list[ColumnRule]]:
    grouped: dict[tuple[str, str], list[ColumnRule]] = {}
    truncated = {(t.schema, t.table) for t in rules.truncated}
    for rule in rules.masked_columns:
        if (rule.schema, rule.table) not in truncated:
            grouped.setdefault((rule.schema, rule.table), []).append(rule)
    return grouped


def _mask_table(
    conn: psycopg.Connection,
    schema: str,
    table: str,
    rules: list[ColumnRule],
    columns: dict[str, Column],
    key: bytes,
    number: int,
) -> TableOutcome:
    started = time.monotonic()
    target = sql.Identifier(schema, table)
    checked = [r for r in rules if r.strategy in _CHECKED]
    sample = _take_sample(conn, schema, table, checked, number)
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(
            sql.Identifier(r.column),
            strategies.column_expression(r, columns[r.key].type_name, columns[r.key].category),
        )
        for r in rules
    )
    cursor = conn.execute(
        sql.SQL("UPDATE {} SET {}").format(target, assignments),
        strategies.parameters(key),
    )
    rows = cursor.rowcount
    survived = _survivors(conn, target, sample, checked) if sample else {}
    return TableOutcome(
        schema,
        table,
        rows,
        tuple(r.column for r in rules),
        sample.rows if sample else 0,
        survived,
        time.monotonic() - started,
    )


@dataclass(frozen=True)
class _Sample:
    table: sql.Identifier  # the temporary table holding it
    join: tuple[str, ...]  # primary key columns, or () to look values up in the whole column
    rows: int


def _values(rule: ColumnRule, prefix: sql.Composable) -> list[tuple[str, sql.Composable]]:
    """(sample column name, the value as text) for each thing a rule masks."""
    column = sql.SQL("{}.{}").format(prefix, sql.Identifier(rule.column))
    if rule.strategy != "json":
        return [(rule.column, sql.SQL("{}::text").format(column))]
    return [
        (
            f"{rule.column}#{'.'.join(path)}",
            sql.SQL("({}::jsonb #>> {})").format(column, sql.Literal("{" + ",".join(path) + "}")),
        )
        for path, _strategy in rule.json_paths
    ]


def _take_sample(
    conn: psycopg.Connection, schema: str, table: str, rules: list[ColumnRule], number: int
) -> _Sample | None:
    if not rules:
        return None
    masked = {r.column for r in rules}
    key = [
        row[0]
        for row in conn.execute(
            """
            SELECT a.attname FROM pg_index i
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = %s::regclass AND i.indisprimary
            """,
            (sql.Identifier(schema, table).as_string(conn),),
        ).fetchall()
    ]
    join = tuple(key) if key and not masked & set(key) else ()
    estimate = conn.execute(
        "SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
        (sql.Identifier(schema, table).as_string(conn),),
    ).fetchone()
    rows_estimate = float(estimate[0]) if estimate else -1.0
    source = sql.SQL("{} AS t").format(sql.Identifier(schema, table))
    if rows_estimate > SAMPLE_ROWS * 10:
        percent = min(100.0, 100.0 * SAMPLE_ROWS * 3 / rows_estimate)
        source = sql.SQL("{} TABLESAMPLE SYSTEM ({})").format(source, sql.Literal(percent))
    prefix = sql.Identifier("t")
    picked = [sql.SQL("{}.{}").format(prefix, sql.Identifier(k)) for k in join]
    for rule in rules:
        picked += [
            sql.SQL("{} AS {}").format(value, sql.Identifier(name))
            for name, value in _values(rule, prefix)
        ]
    # Numbered: two schemas may each have a table of the same name.
    sample = sql.Identifier(f"prodclone_sample_{number}")
    conn.execute(
        sql.SQL("CREATE TEMPORARY TABLE {} ON COMMIT DROP AS SELECT {} FROM {} LIMIT {}").format(
            sample, sql.SQL(", ").join(picked), source, sql.Literal(SAMPLE_ROWS)
        )
    )
    count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sample)).fetchone()
    return _Sample(sample, join, int(count[0]) if count else 0)


def _survivors(
    conn: psycopg.Connection, target: sql.Identifier, sample: _Sample, rules: list[ColumnRule]
) -> dict[str, int]:
    """How many sampled original values are still there: in the same row (by primary key),
    or, without a usable key, anywhere in the column."""
    found: dict[str, int] = {}
    prefix = sql.Identifier("t")
    for rule in rules:
        for name, value in _values(rule, prefix):
            before = sql.SQL("s.{}").format(sql.Identifier(name))
            if sample.join:
                query = sql.SQL(
                    "SELECT count(*) FROM {sample} s JOIN {target} t USING ({key}) "
                    "WHERE {before} IS NOT NULL AND {value} = {before}"
                ).format(
                    sample=sample.table,
                    target=target,
                    key=sql.SQL(", ").join(map(sql.Identifier, sample.join)),
                    before=before,
                    value=value,
                )
            else:
                query = sql.SQL(
                    "SELECT count(*) FROM {target} t WHERE {value} IN "
                    "(SELECT {before} FROM {sample} s WHERE {before} IS NOT NULL)"
                ).format(sample=sample.table, target=target, before=before, value=value)
            row = conn.execute(query).fetchone()
            found[name] = int(row[0]) if row else 0
    return found
