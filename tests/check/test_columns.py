"""Column fingerprints against a real database: wiped, retyped, renamed and sampled columns."""

from __future__ import annotations

import psycopg

from prodclone.check.columns import compare_columns, fingerprint, sample_plan
from prodclone.local.server import LocalServer
from tests.conftest import run_sql

SETUP = """
CREATE TABLE customers (id int PRIMARY KEY, name varchar(80), note text, score int);
INSERT INTO customers
SELECT g, 'customer ' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END, g * 7
FROM generate_series(1, 2000) g;
CREATE TABLE empty_one (id int PRIMARY KEY, unused text);
"""


def migrate(pg: LocalServer, db: str, statements: str, expected: tuple[str, ...] = ()) -> list[str]:
    """Fingerprint, run `statements`, fingerprint again: the problems, as a user reads them."""
    with psycopg.connect(pg.url(db), autocommit=True) as conn:
        before = fingerprint(conn, 1 << 40, exclude_schema="prodclone_watch")
    run_sql(pg, db, statements)
    with psycopg.connect(pg.url(db), autocommit=True) as conn:
        after = fingerprint(conn, 1 << 40, exclude_schema="prodclone_watch")
    return [
        f"{change.name}: {change.note}"
        for change in compare_columns(before, after, expected)
        if change.problem
    ]


def test_remove_field_then_add_field_fails_naming_the_column(
    pg: LocalServer, fresh_db: str
) -> None:
    run_sql(pg, fresh_db, SETUP)
    problems = migrate(
        pg,
        fresh_db,
        # What makemigrations writes when "did you rename?" is answered no.
        "ALTER TABLE customers DROP COLUMN name; ALTER TABLE customers ADD COLUMN full_name text;"
        "ALTER TABLE empty_one DROP COLUMN unused;",
    )
    assert problems == ["public.customers.name: dropped while it held 2000 non-null value(s)"]


def test_type_changes_that_keep_the_text_and_renames_pass(pg: LocalServer, fresh_db: str) -> None:
    run_sql(pg, fresh_db, SETUP)
    problems = migrate(
        pg,
        fresh_db,
        "ALTER TABLE customers ALTER COLUMN name TYPE text;"
        "ALTER TABLE customers ALTER COLUMN score TYPE bigint;"
        "ALTER TABLE customers RENAME COLUMN note TO remark;"
        "ALTER TABLE customers RENAME TO clients;",
    )
    assert problems == []


def test_changed_and_nulled_values_fail_unless_expected(pg: LocalServer, fresh_db: str) -> None:
    run_sql(pg, fresh_db, SETUP)
    change = "UPDATE customers SET name = upper(name); UPDATE customers SET note = NULL;"
    assert migrate(pg, fresh_db, change) == [
        "public.customers.name: values changed: 2000 -> 2000 non-null, their hash differs",
        "public.customers.note: non-null values 1334 -> 0",
    ]
    run_sql(pg, fresh_db, "DROP TABLE customers, empty_one;" + SETUP)
    assert migrate(pg, fresh_db, change, expected=("customers.name", "customers.note")) == []
    run_sql(pg, fresh_db, "DROP TABLE customers, empty_one;" + SETUP)
    assert migrate(pg, fresh_db, change, expected=("public.customers",)) == []


def test_large_tables_are_sampled_by_primary_key_on_the_same_rows(
    pg: LocalServer, fresh_db: str
) -> None:
    run_sql(pg, fresh_db, SETUP)
    with psycopg.connect(pg.url(fresh_db), autocommit=True) as conn:
        before = fingerprint(conn, 8192, exclude_schema="prodclone_watch")
        plan = sample_plan(before)
        customers = next(t for t in before.values() if t.name == "customers")
        assert customers.sampled and 0 < customers.rows < 2000
        run_sql(pg, fresh_db, "ALTER TABLE customers ALTER COLUMN id TYPE bigint")
        same = fingerprint(conn, 8192, exclude_schema="prodclone_watch", samples=plan)
        assert compare_columns(before, same, ()) == []
        run_sql(pg, fresh_db, "UPDATE customers SET score = 0")
        after = fingerprint(conn, 8192, exclude_schema="prodclone_watch", samples=plan)
    problems = [c.note for c in compare_columns(before, after, ()) if c.problem]
    assert problems == [
        f"values changed: {customers.rows} -> {customers.rows} non-null, their hash differs "
        f"(in a sample of 1 in {customers.buckets} rows)"
    ]
