"""Column fingerprints: every column's non-null count and a hash of its values, by OID.

A row count cannot see a column whose data was wiped (`RemoveField` + `AddField`,
what a framework writes when it did not recognise a rename) or rewritten. Each
column is fingerprinted before and after the migration as (non-null count, sum of
a hash of each value) -- order-independent and unchanged by a type change that keeps
every value (varchar -> text, int -> bigint: see _FAMILIES) -- and followed by
(table OID, attnum), which survive table and column renames.

Tables above a size threshold are fingerprinted on a sample: ranges of their primary
key chosen at the baseline and read again, by the same bounds, after the migration
(see keyranges).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import psycopg
from psycopg import sql

from prodclone.check import keyranges
from prodclone.check.keyranges import Sample
from prodclone.check.rowcounts import KNOWN_GROWING

# Same text form on both sides whatever the session's defaults.
_SESSION = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'"

_TABLES = """
SELECT c.oid::bigint, n.nspname, c.relname, pg_relation_size(c.oid)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', %s)
  AND n.nspname NOT LIKE 'pg\\_toast%%'
  AND n.nspname NOT LIKE 'pg\\_temp%%'
ORDER BY n.nspname, c.relname
"""

_COLUMNS = """
SELECT a.attrelid::bigint, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
       a.attgenerated <> ''
FROM pg_attribute a
WHERE a.attrelid = ANY(%s::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

_PRIMARY_KEYS = """
SELECT i.indrelid::bigint, i.indkey::int2[]
FROM pg_index i
WHERE i.indrelid = ANY(%s::oid[]) AND i.indisprimary
"""


# How a column's values are hashed, by type family. Each family hashes a value the same
# way whatever its type within the family (hashint8 equals hashint4 on the same number,
# varchar and text share hashtext), so a widening change keeps the digest; anything
# else is hashed by its text form. The cheap per-type hashes keep the pass near a scan.
_FAMILIES: dict[str, tuple[str, str]] = {
    "smallint": ("integer", "hashint8({}::bigint)"),
    "integer": ("integer", "hashint8({}::bigint)"),
    "bigint": ("integer", "hashint8({}::bigint)"),
    "text": ("text", "hashtext({}::text)"),
    "character varying": ("text", "hashtext({}::text)"),
    "jsonb": ("jsonb", "jsonb_hash({})"),
    "timestamp with time zone": ("timestamptz", "timestamp_hash({}::timestamp)"),
    "timestamp without time zone": ("timestamp", "timestamp_hash({})"),
    "uuid": ("uuid", "uuid_hash({})"),
}
_TEXT_FORM = ("text form", "hashtext({}::text)")


def family(type_: str) -> tuple[str, str]:
    """The hash family of a type as format_type shows it (a typmod is left out)."""
    return _FAMILIES.get(type_.split("(")[0].strip(), _TEXT_FORM)


@dataclass(frozen=True)
class ColumnPrint:
    attnum: int
    name: str
    type: str
    nonnull: int
    digest: int

    @property
    def family(self) -> str:
        return family(self.type)[0]


@dataclass
class TablePrint:
    oid: int
    schema: str
    name: str
    size_bytes: int
    rows: int = 0
    columns: dict[int, ColumnPrint] = field(default_factory=dict)
    # A sampled table: the primary-key ranges its columns were fingerprinted on.
    sample: Sample | None = None
    # After the migration: why the baseline's ranges could not be read again (the
    # table was then fingerprinted whole, and its values cannot be compared).
    unreadable: str = ""

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def sampled(self) -> bool:
        return self.sample is not None

    @property
    def sample_note(self) -> str:
        """How the table was read, for the report; empty when it was read whole."""
        return self.sample.describe(self.rows) if self.sample is not None else ""


Prints = dict[int, TablePrint]


def fingerprint(
    conn: psycopg.Connection,
    sample_above_bytes: int,
    *,
    exclude_schema: str,
    samples: dict[int, Sample] | None = None,
) -> Prints:
    """One pass per table computing every column's fingerprint.

    Without `samples` (the baseline), tables above `sample_above_bytes` that have a
    primary key are sampled; with it (after the migration), exactly the tables
    sampled before are, on the same key columns and ranges.
    """
    conn.execute(_SESSION)
    tables: Prints = {}
    for oid, schema, name, size in conn.execute(_TABLES, (exclude_schema,)).fetchall():
        tables[oid] = TablePrint(oid, schema, name, int(size))
    oids = list(tables)
    columns: dict[int, list[tuple[int, str, str]]] = {oid: [] for oid in oids}
    for relid, attnum, name, type_, _generated in conn.execute(_COLUMNS, (oids,)):
        columns[relid].append((attnum, name, type_))
    keys = {relid: tuple(attnums) for relid, attnums in conn.execute(_PRIMARY_KEYS, (oids,))}
    for oid, table in tables.items():
        names = {attnum: name for attnum, name, _type in columns[oid]}
        if samples is None:
            if table.size_bytes > sample_above_bytes and oid in keys:
                key = [sql.Identifier(names[attnum]) for attnum in keys[oid]]
                types = {attnum: type_ for attnum, _name, type_ in columns[oid]}
                key_types = tuple(types[attnum] for attnum in keys[oid])
                integer = len(key_types) == 1 and family(key_types[0])[0] == "integer"
                chosen = keyranges.choose(
                    conn, _identifier(table), key, table.size_bytes, integer=integer
                )
                if chosen is not None:
                    table.sample = replace(chosen, key_attnums=keys[oid], key_types=key_types)
            _fingerprint_table(conn, table, columns[oid])
            if table.sample is not None:
                table.sample = replace(table.sample, baseline_rows=table.rows)
        elif oid in samples:
            _fingerprint_again(conn, table, columns[oid], samples[oid])
        else:
            _fingerprint_table(conn, table, columns[oid])
    return tables


def _fingerprint_again(
    conn: psycopg.Connection,
    table: TablePrint,
    columns: list[tuple[int, str, str]],
    sample: Sample,
) -> None:
    """A table sampled at the baseline: the same ranges, else the whole table and why."""
    names = {attnum: name for attnum, name, _type in columns}
    types = {attnum: type_ for attnum, _name, type_ in columns}
    missing = [attnum for attnum in sample.key_attnums if attnum not in names]
    retyped = [
        f"{names[attnum]} {old} -> {types[attnum]}"
        for attnum, old in zip(sample.key_attnums, sample.key_types, strict=True)
        if attnum in names and family(types[attnum])[0] != family(old)[0]
    ]
    if missing:
        table.unreadable = "a column of its primary key was dropped"
    elif retyped:
        # Another type orders its keys another way: the same bounds would hold other
        # rows (int -> text puts '10' between '1' and '2').
        table.unreadable = "its primary key changed type: " + ", ".join(retyped)
    else:
        table.sample = sample
        try:
            _fingerprint_table(conn, table, columns)
            return
        except (psycopg.errors.DataError, psycopg.errors.UndefinedFunction) as exc:
            # The key's new type does not read the old bounds (int -> uuid, say).
            # The connection is in autocommit: the failed statement left nothing open.
            reason = (str(exc).strip().splitlines() or ["error"])[0]
            table.sample = None
            table.unreadable = f"its primary key no longer reads the sample's bounds ({reason})"
    _fingerprint_table(conn, table, columns)


def _identifier(table: TablePrint) -> sql.Identifier:
    return sql.Identifier(table.schema, table.name)


def exact_counts(prints: Prints) -> dict[int, int]:
    """Row counts the fingerprint pass took whole (not sampled), by table OID."""
    return {oid: table.rows for oid, table in prints.items() if not table.sampled}


def sample_estimates(prints: Prints) -> dict[int, int]:
    """Row counts of sampled tables, scaled from the rows their ranges hold (no ANALYZE)."""
    return {
        oid: table.sample.estimate(table.rows)
        for oid, table in prints.items()
        if table.sample is not None
    }


def sample_plan(prints: Prints) -> dict[int, Sample]:
    """What the fingerprint after the migration reads again: each sampled table's ranges."""
    return {oid: table.sample for oid, table in prints.items() if table.sample is not None}


def _fingerprint_table(
    conn: psycopg.Connection, table: TablePrint, columns: list[tuple[int, str, str]]
) -> None:
    parts: list[sql.Composable] = [sql.SQL("count(*)")]
    for _attnum, name, _type in columns:
        column = sql.Identifier(name)
        parts.append(sql.SQL("count({})").format(column))
        # Every hash is int4: the sum of up to 2^32 of them fits a bigint.
        hashed = sql.SQL(family(_type)[1]).format(column)
        parts.append(sql.SQL("coalesce(sum({}), 0)").format(hashed))
    query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(parts), _identifier(table))
    if table.sample is not None:
        names = {attnum: name for attnum, name, _type in columns}
        key = [sql.Identifier(names[attnum]) for attnum in table.sample.key_attnums]
        query += sql.SQL(" WHERE {}").format(keyranges.predicate(key, table.sample.ranges))
    row = conn.execute(query).fetchone()
    assert row is not None
    table.rows = int(row[0])
    for index, (attnum, name, type_) in enumerate(columns):
        nonnull, digest = row[1 + 2 * index], row[2 + 2 * index]
        table.columns[attnum] = ColumnPrint(attnum, name, type_, int(nonnull), int(digest))


@dataclass(frozen=True)
class ColumnChange:
    """One column's fate; `problem` when it fails the data check."""

    table: str  # the table's name before the migration
    column: str  # the column's name before
    note: str
    problem: bool = False
    expected: bool = False

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


def compare_columns(before: Prints, after: Prints, expected: tuple[str, ...]) -> list[ColumnChange]:
    """Columns that held data and were dropped, lost values, or changed values.

    Unchanged columns are not listed. A table dropped outright is the row counts'
    finding; a table dropped and recreated under its name is followed by name.
    """
    wanted = {entry.lower() for entry in expected}
    by_name = {table.qualified: table for table in after.values()}
    changes: list[ColumnChange] = []
    for oid, old in before.items():
        new = after.get(oid)
        by_attnum = True
        if new is None:
            new = by_name.get(old.qualified)
            by_attnum = False
            if new is None or new.oid in before:
                continue
        if old.name.lower() in KNOWN_GROWING:
            continue
        for column in old.columns.values():
            change = _compare_column(old, new, column, by_attnum)
            if change is None:
                continue
            names = _names(old, new, column, by_attnum)
            if names & wanted:
                change = ColumnChange(
                    change.table,
                    change.column,
                    change.note + " (expected: check.expected_data_changes)",
                    expected=True,
                )
            changes.append(change)
    return changes


def _after_column(new: TablePrint, column: ColumnPrint, by_attnum: bool) -> ColumnPrint | None:
    if by_attnum:
        return new.columns.get(column.attnum)
    return next((c for c in new.columns.values() if c.name == column.name), None)


def _names(old: TablePrint, new: TablePrint, column: ColumnPrint, by_attnum: bool) -> set[str]:
    """Every way a user may name this column (or its table) in expected_data_changes."""
    names = {old.name, old.qualified, new.name, new.qualified}
    columns = {column.name}
    moved = _after_column(new, column, by_attnum)
    if moved is not None:
        columns.add(moved.name)
    for table in (old, new):
        for col in columns:
            names |= {f"{table.name}.{col}", f"{table.qualified}.{col}"}
    return {name.lower() for name in names}


def _compare_column(
    old: TablePrint, new: TablePrint, column: ColumnPrint, by_attnum: bool
) -> ColumnChange | None:
    moved = _after_column(new, column, by_attnum)
    table = old.qualified
    sample = (
        f" (in a sample of {len(old.sample.ranges)} primary-key ranges)"
        if old.sample is not None
        else ""
    )
    if moved is None:
        if column.nonnull == 0:
            return None
        return ColumnChange(
            table,
            column.name,
            f"dropped while it held {column.nonnull} non-null value(s){sample}",
            problem=True,
        )
    renamed = f"renamed to {moved.name}; " if moved.name != column.name else ""
    retyped = f"type {column.type} -> {moved.type}; " if moved.type != column.type else ""
    if new.unreadable:
        return _unreadable(old, new, column, moved, f"{renamed}{retyped}")
    if moved.nonnull < column.nonnull:
        return ColumnChange(
            table,
            column.name,
            f"{renamed}{retyped}non-null values {column.nonnull} -> {moved.nonnull}{sample}",
            problem=True,
        )
    if new.rows != old.rows:
        # Rows added (allowed by default): the values cannot be compared, only counted.
        return None
    if moved.family != column.family:
        return ColumnChange(
            table,
            column.name,
            f"{renamed}{retyped}non-null values kept ({moved.nonnull}); values not compared "
            "(the new type is hashed another way)",
        )
    if moved.digest != column.digest:
        return ColumnChange(
            table,
            column.name,
            f"{renamed}{retyped}values changed: {column.nonnull} -> {moved.nonnull} non-null, "
            f"their hash differs{sample}",
            problem=True,
        )
    return None


def _unreadable(
    old: TablePrint, new: TablePrint, column: ColumnPrint, moved: ColumnPrint, prefix: str
) -> ColumnChange:
    """A sampled table whose ranges could not be read again: it was read whole after.

    Fewer non-null values in the whole table than the sample alone held is still a
    loss; anything else cannot be compared, and the report says so.
    """
    if moved.nonnull < column.nonnull:
        return ColumnChange(
            old.qualified,
            column.name,
            f"{prefix}non-null values {column.nonnull} in the baseline's sample -> "
            f"{moved.nonnull} in the whole table ({new.unreadable})",
            problem=True,
        )
    return ColumnChange(
        old.qualified, column.name, f"{prefix}values not compared: {new.unreadable}"
    )
