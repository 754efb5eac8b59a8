"""Row counts keyed by table OID, and what a migration did to them.

A table's OID survives `ALTER TABLE ... RENAME` and rewrites (`ALTER COLUMN TYPE`,
`VACUUM FULL`), so counts are followed across renames by OID; a table that was
dropped and recreated under the same name gets a new OID, which is how a migration
that silently loses rows is told apart from one that only renamed things.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql

# Estimates are compared with this much slack: ANALYZE samples, it does not count.
ESTIMATE_TOLERANCE = 0.10

# Where migration tools record what they applied: every migration adds rows to them.
# Django, Rails, Alembic, Flyway, Liquibase, Knex, goose, Prisma, Entity Framework, yoyo,
# and the older Flyway and Rails names.
BOOKKEEPING_TABLES: frozenset[str] = frozenset(
    {
        "django_migrations",
        "schema_migrations",
        "ar_internal_metadata",
        "alembic_version",
        "flyway_schema_history",
        "databasechangelog",
        "databasechangeloglock",
        "knex_migrations",
        "knex_migrations_lock",
        "goose_db_version",
        "_prisma_migrations",
        "__efmigrationshistory",
        "_yoyo_migration",
        "_yoyo_log",
        "_yoyo_version",
        "yoyo_lock",
        "schema_version",
    }
)
# Django fills these from the models after every `migrate` (its post_migrate signal):
# a model added or renamed adds a content type and its permissions.
DJANGO_REGISTRY_TABLES: frozenset[str] = frozenset({"django_content_type", "auth_permission"})
KNOWN_GROWING = BOOKKEEPING_TABLES | DJANGO_REGISTRY_TABLES

_TABLES = """
SELECT c.oid, n.nspname, c.relname, c.reltuples, pg_relation_size(c.oid)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%'
  AND n.nspname NOT LIKE 'pg\\_temp%'
ORDER BY n.nspname, c.relname
"""


@dataclass(frozen=True)
class TableCount:
    oid: int
    schema: str
    name: str
    rows: int
    estimated: bool
    size_bytes: int

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def shown(self) -> str:
        return f"~{self.rows}" if self.estimated else str(self.rows)


Counts = dict[int, TableCount]


def count_rows(
    conn: psycopg.Connection,
    exact_max_bytes: int,
    estimate_oids: Iterable[int] = (),
    known: dict[int, int] | None = None,
    sampled: dict[int, int] | None = None,
) -> Counts:
    """Exact `count(*)` per table, or an ANALYZE estimate above `exact_max_bytes`.

    `estimate_oids` forces estimates for those tables (so that a table estimated in
    the baseline is estimated again afterwards, whatever its size now). `known` holds
    exact counts already taken (by the column fingerprints' pass over every row):
    used whatever the table's size, as they cost nothing more. `sampled` holds
    estimates from the same pass's primary-key sample, used for the tables that are
    estimated (no ANALYZE); a sampled table within `exact_max_bytes` is still counted
    exactly, so that a row lost outside the sample shows.
    """
    forced = set(estimate_oids)
    counts: Counts = {}
    for oid, schema, name, reltuples, size in conn.execute(_TABLES).fetchall():
        table = sql.Identifier(schema, name)
        if (size > exact_max_bytes or oid in forced) and sampled and oid in sampled:
            rows, estimated = sampled[oid], True
        elif known is not None and oid in known:
            rows, estimated = known[oid], False
        elif size > exact_max_bytes or oid in forced:
            if reltuples < 0 or oid in forced:
                # Never analyzed (a fresh restore), or changed by the migration.
                conn.execute(sql.SQL("ANALYZE {}").format(table))
                reltuples = conn.execute(
                    "SELECT reltuples FROM pg_class WHERE oid = %s", (oid,)
                ).fetchone()[0]  # type: ignore[index]
            rows, estimated = max(int(reltuples), 0), True
        else:
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
            rows, estimated = (int(row[0]) if row else 0), False
        counts[oid] = TableCount(oid, schema, name, rows, estimated, int(size))
    return counts


@dataclass(frozen=True)
class TableChange:
    """One table's fate; `problem` is set when it fails the data check."""

    before: TableCount | None
    after: TableCount | None
    note: str
    problem: bool = False
    # Rows the table gained (0 when it kept or lost rows); `bookkeeping` when it is a
    # migration tool's own table, which is meant to grow.
    gained: int = 0
    bookkeeping: bool = False

    @property
    def name(self) -> str:
        table = self.before or self.after
        assert table is not None
        return table.qualified


def _is_expected(expected: tuple[str, ...], *tables: TableCount | None) -> bool:
    wanted = {name.lower() for name in expected}
    for table in tables:
        if table is not None and (
            table.name.lower() in wanted or table.qualified.lower() in wanted
        ):
            return True
    return False


def _is_bookkeeping(*tables: TableCount | None) -> bool:
    return any(table is not None and table.name.lower() in KNOWN_GROWING for table in tables)


def _same_rows(before: TableCount, after: TableCount) -> bool:
    if not (before.estimated or after.estimated):
        return before.rows == after.rows
    largest = max(before.rows, after.rows, 1)
    return abs(before.rows - after.rows) / largest <= ESTIMATE_TOLERANCE


def compare_counts(
    before: Counts,
    after: Counts,
    expected: tuple[str, ...],
    fail_on_gained: bool = False,
) -> list[TableChange]:
    """Follow every baseline table by OID; flag lost or dropped rows.

    Rows a table gained are reported apart (`TableChange.gained`) and are a problem
    only with `fail_on_gained`, and never in a migration tool's bookkeeping table.
    """
    rule = _Rule(expected, fail_on_gained)
    changes: list[TableChange] = []
    by_name = {table.qualified: table for table in after.values()}
    recreated: set[int] = set()
    for oid, old in before.items():
        new = after.get(oid)
        if new is not None:
            renamed = f"renamed to {new.qualified}; " if new.qualified != old.qualified else ""
            if _same_rows(old, new):
                changes.append(TableChange(old, new, f"{renamed}rows kept ({new.shown()})"))
            else:
                note = f"{renamed}rows {old.shown()} -> {new.shown()}"
                changes.append(rule.changed(old, new, note, new))
            continue
        twin = by_name.get(old.qualified)
        if twin is not None and twin.oid not in before:
            recreated.add(twin.oid)
            note = f"dropped and recreated (OID {old.oid} -> {twin.oid}); rows "
            if _same_rows(old, twin):
                changes.append(TableChange(old, twin, note + f"kept ({twin.shown()})"))
            else:
                note += f"{old.shown()} -> {twin.shown()}"
                changes.append(rule.changed(old, twin, note, twin))
            continue
        if old.rows == 0:
            changes.append(TableChange(old, None, "dropped (it was empty)"))
        else:
            changes.append(rule.changed(old, None, f"dropped with its {old.shown()} rows", None))
    for oid, new in after.items():
        if oid not in before and oid not in recreated:
            changes.append(TableChange(None, new, f"new table ({new.shown()} rows)"))
    return changes


@dataclass(frozen=True)
class _Rule:
    """What a change in a table's row count means: expected, bookkeeping, gained or lost."""

    expected: tuple[str, ...]
    fail_on_gained: bool

    def changed(
        self, before: TableCount, after: TableCount | None, note: str, counted: TableCount | None
    ) -> TableChange:
        """`counted` is the table the rows are now in (None: dropped)."""
        gained = counted.rows - before.rows if counted is not None else -before.rows
        bookkeeping = _is_bookkeeping(before, after)
        if _is_expected(self.expected, before, after):
            note += " (expected: check.expected_data_changes)"
            return TableChange(before, after, note, gained=max(gained, 0), bookkeeping=bookkeeping)
        if gained <= 0:
            return TableChange(before, after, note, problem=True, bookkeeping=bookkeeping)
        if bookkeeping:
            return TableChange(
                before,
                after,
                f"{note} (gained {gained}: migration bookkeeping)",
                gained=gained,
                bookkeeping=True,
            )
        if self.fail_on_gained:
            note += f" (gained {gained}: check.fail_on_gained_rows)"
            return TableChange(before, after, note, problem=True, gained=gained)
        return TableChange(before, after, f"{note} (gained {gained})", gained=gained)
