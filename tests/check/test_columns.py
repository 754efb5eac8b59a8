"""Column fingerprints against a real database: wiped, retyped, renamed and sampled columns."""

from __future__ import annotations

import psycopg

from prodclone.check.columns import (
    Prints,
    TablePrint,
    compare_columns,
    exact_counts,
    fingerprint,
    sample_estimates,
    sample_plan,
)
from prodclone.check.keyranges import KeyRange
from prodclone.check.rowcounts import compare_counts, count_rows
from prodclone.local.server import LocalServer
from tests.check.conftest import CheckProject
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
        f"(in a sample of {len(plan[customers.oid].ranges)} primary-key ranges)"
    ]


def sampled_customers(conn: psycopg.Connection) -> tuple[Prints, TablePrint]:
    before = fingerprint(conn, 8192, exclude_schema="prodclone_watch")
    return before, next(t for t in before.values() if t.name == "customers")


def problems_after(conn: psycopg.Connection, before: Prints) -> list[str]:
    after = fingerprint(conn, 8192, exclude_schema="prodclone_watch", samples=sample_plan(before))
    return [f"{c.name}: {c.note}" for c in compare_columns(before, after, ()) if c.problem]


def test_a_change_inside_a_sampled_range_is_caught_and_one_outside_is_not_claimed(
    pg: LocalServer, fresh_db: str
) -> None:
    run_sql(pg, fresh_db, SETUP)
    with psycopg.connect(pg.url(fresh_db), autocommit=True) as conn:
        before, customers = sampled_customers(conn)
        # 2000 rows on a few pages: the block sample reads them all, and the sample is
        # capped at a quarter of them, 64 ranges of 8 keys spread over the table.
        assert customers.sample_note == "512 rows in 64 primary-key ranges, 25.6% of ~2000"
        assert customers.sample is not None
        first, second = customers.sample.ranges[:2]
        assert (first.low, first.high, second.low, second.high) == (
            ("1",),
            ("8",),
            ("32",),
            ("39",),
        )
        # Between two ranges: not read, so not claimed either way.
        run_sql(pg, fresh_db, "UPDATE customers SET score = -1 WHERE id = 20")
        assert problems_after(conn, before) == []
        run_sql(pg, fresh_db, "UPDATE customers SET score = -1 WHERE id = 35")
        assert problems_after(conn, before) == [
            "public.customers.score: values changed: 512 -> 512 non-null, their hash differs "
            "(in a sample of 64 primary-key ranges)"
        ]
        # A row deleted inside a range: its non-null values are missed, column by column
        # (its note was NULL: 36 is a multiple of 3).
        run_sql(pg, fresh_db, "UPDATE customers SET score = 35 * 7 WHERE id = 35")
        run_sql(pg, fresh_db, "DELETE FROM customers WHERE id = 36")
        assert problems_after(conn, before) == [
            "public.customers.id: non-null values 512 -> 511 "
            "(in a sample of 64 primary-key ranges)",
            "public.customers.name: non-null values 512 -> 511 "
            "(in a sample of 64 primary-key ranges)",
            "public.customers.score: non-null values 512 -> 511 "
            "(in a sample of 64 primary-key ranges)",
        ]


def test_a_sampled_table_counted_exactly_still_shows_a_row_lost_outside_the_ranges(
    pg: LocalServer, fresh_db: str
) -> None:
    run_sql(pg, fresh_db, SETUP)
    with psycopg.connect(pg.url(fresh_db), autocommit=True) as conn:
        before, customers = sampled_customers(conn)
        assert customers.sampled
        counts = count_rows(
            conn, 1 << 30, known=exact_counts(before), sampled=sample_estimates(before)
        )
        run_sql(pg, fresh_db, "DELETE FROM customers WHERE id = 20")
        after = fingerprint(
            conn, 8192, exclude_schema="prodclone_watch", samples=sample_plan(before)
        )
        again = count_rows(
            conn, 1 << 30, known=exact_counts(after), sampled=sample_estimates(after)
        )
    assert [c.note for c in compare_columns(before, after, ())] == []
    assert [(c.name, c.note) for c in compare_counts(counts, again, ()) if c.problem] == [
        ("public.customers", "rows 2000 -> 1999")
    ]


def test_a_composite_primary_key_is_sampled_on_row_ranges(pg: LocalServer, fresh_db: str) -> None:
    run_sql(
        pg,
        fresh_db,
        "CREATE TABLE lines (invoice text, line int, amount int, PRIMARY KEY (invoice, line));"
        "INSERT INTO lines SELECT 'inv-' || (g / 10), g % 10, g FROM generate_series(0, 4999) g;",
    )
    with psycopg.connect(pg.url(fresh_db), autocommit=True) as conn:
        before = fingerprint(conn, 8192, exclude_schema="prodclone_watch")
        lines = next(t for t in before.values() if t.name == "lines")
        assert lines.sample is not None and lines.sample.ranges[0].low == ("inv-0", "0")
        high = lines.sample.ranges[0].high
        assert high is not None
        run_sql(
            pg,
            fresh_db,
            f"UPDATE lines SET amount = 0 WHERE invoice = '{high[0]}' AND line = {high[1]}",
        )
        assert problems_after(conn, before) == [
            f"public.lines.amount: values changed: {lines.rows} -> {lines.rows} non-null, "
            f"their hash differs (in a sample of {len(lines.sample.ranges)} primary-key ranges)"
        ]


def test_a_primary_key_retyped_to_another_order_is_not_compared_and_says_why(
    pg: LocalServer, fresh_db: str
) -> None:
    run_sql(pg, fresh_db, SETUP)
    with psycopg.connect(pg.url(fresh_db), autocommit=True) as conn:
        before, _customers = sampled_customers(conn)
        run_sql(
            pg,
            fresh_db,
            "ALTER TABLE customers ALTER COLUMN id TYPE text; UPDATE customers SET score = 0;"
            "ALTER TABLE customers DROP COLUMN note",
        )
        after = fingerprint(
            conn, 8192, exclude_schema="prodclone_watch", samples=sample_plan(before)
        )
    changes = [(c.name, c.note, c.problem) for c in compare_columns(before, after, ())]
    why = "values not compared: its primary key changed type: id integer -> text"
    assert changes == [
        ("public.customers.id", "type integer -> text; " + why, False),
        ("public.customers.name", why, False),
        (
            "public.customers.note",
            "dropped while it held 342 non-null value(s) (in a sample of 64 primary-key ranges)",
            True,
        ),
        ("public.customers.score", why, False),
    ]


def test_the_report_names_each_sampled_table_and_its_ranges(checker: CheckProject) -> None:
    checker.add_migration("0006_totals.sql", "UPDATE documents SET total_cents = total_cents + 1;")
    checker.configure(check={"sample_above_mb": 0})
    result = checker.check("--skip-smoke")
    assert result.code == 1, result.output
    baseline = result.stage("baseline")
    assert "columns fingerprinted; 7 sampled by primary key" in baseline["summary"]
    assert "public.documents" in baseline["figures"]["sampled_tables"]
    data = result.stage("data")
    assert data["status"] == "failed", result.output
    assert "public.documents.total_cents values changed: " in data["summary"]
    assert "their hash differs (in a sample of 64 primary-key ranges)" in data["summary"]
    # 3000 documents on a few pages: a quarter of them, in 64 ranges of 12 keys.
    assert (
        "- sampled: public.documents (768 rows in 64 primary-key ranges, 25.6% of ~3000; "
        "the same ranges before and after)"
    ) in result.markdown


def test_a_large_table_without_a_primary_key_is_read_whole_and_counted_exactly(
    pg: LocalServer, fresh_db: str
) -> None:
    run_sql(
        pg,
        fresh_db,
        "CREATE TABLE audit (at int, what text);"
        "INSERT INTO audit SELECT g, repeat('x', 100) FROM generate_series(1, 3000) g;",
    )
    with psycopg.connect(pg.url(fresh_db), autocommit=True) as conn:
        # Above both limits: no key to sample on, so every value is hashed, and the count
        # that pass took is exact: no ANALYZE estimate, which would miss one row in 3000.
        before = fingerprint(conn, 8192, exclude_schema="prodclone_watch")
        counts = count_rows(conn, 8192, known=exact_counts(before))
        run_sql(pg, fresh_db, "DELETE FROM audit WHERE at = 1234")
        after = fingerprint(conn, 8192, exclude_schema="prodclone_watch")
        estimated = [oid for oid, table in counts.items() if table.estimated]
        again = count_rows(conn, 8192, estimate_oids=estimated, known=exact_counts(after))
    assert not any(table.sampled for table in before.values())
    assert [(c.name, c.note) for c in compare_counts(counts, again, ()) if c.problem] == [
        ("public.audit", "rows 3000 -> 2999")
    ]


def test_integer_key_ranges_are_sized_by_the_keys_density(pg: LocalServer, fresh_db: str) -> None:
    # Keys ten apart, then a far outlier: each range still spans its share of the rows.
    run_sql(
        pg,
        fresh_db,
        "CREATE TABLE sparse (id bigint PRIMARY KEY, v int);"
        "INSERT INTO sparse SELECT g * 10, g FROM generate_series(1, 2000) g;"
        "INSERT INTO sparse VALUES (9000000000000, 0);",
    )
    with psycopg.connect(pg.url(fresh_db), autocommit=True) as conn:
        before = fingerprint(conn, 8192, exclude_schema="prodclone_watch")
    sparse = next(t for t in before.values() if t.name == "sparse")
    assert sparse.sample is not None
    assert sparse.sample.ranges[1] == KeyRange(("320",), ("399",))
    # 63 ranges of 8 keys. The last one, measured up to the outlier, spans far more
    # keys but holds only the 31 rows after its start: the outlier is beyond it.
    assert sparse.sample_note == "535 rows in 64 primary-key ranges, 26.7% of ~2001"
    assert sparse.sample.ranges[-2] == KeyRange(("19390",), ("19469",))
    assert sparse.sample.ranges[-1] == KeyRange(("19700",), ("2322580659776",))


def test_bounds_the_new_key_type_cannot_read_leave_the_values_uncompared(
    pg: LocalServer, fresh_db: str
) -> None:
    # numeric and date are both hashed by their text, but '1' is no date.
    run_sql(
        pg,
        fresh_db,
        "CREATE TABLE rates (id numeric PRIMARY KEY, rate int);"
        "INSERT INTO rates SELECT g, g FROM generate_series(1, 2000) g;",
    )
    with psycopg.connect(pg.url(fresh_db), autocommit=True) as conn:
        before = fingerprint(conn, 8192, exclude_schema="prodclone_watch")
        run_sql(
            pg,
            fresh_db,
            "ALTER TABLE rates ALTER COLUMN id TYPE date USING date '2020-01-01' + id::int",
        )
        after = fingerprint(
            conn, 8192, exclude_schema="prodclone_watch", samples=sample_plan(before)
        )
    notes = [(c.name, c.note, c.problem) for c in compare_columns(before, after, ())]
    why = (
        "values not compared: its primary key no longer reads the sample's bounds "
        '(invalid input syntax for type date: "1")'
    )
    assert notes == [
        ("public.rates.id", "type numeric -> date; " + why, False),
        ("public.rates.rate", why, False),
    ]
