"""Row counts by OID against a real database: renames followed, losses named."""

from __future__ import annotations

from prodclone.check.rowcounts import compare_counts, count_rows
from prodclone.local.server import LocalServer
from tests.conftest import run_sql

SETUP = """
CREATE TABLE kept (id int);       INSERT INTO kept SELECT generate_series(1, 50);
CREATE TABLE moved (id int);      INSERT INTO moved SELECT generate_series(1, 40);
CREATE TABLE dropped (id int);    INSERT INTO dropped SELECT generate_series(1, 30);
CREATE TABLE emptied (id int);
CREATE TABLE rebuilt (id int);    INSERT INTO rebuilt SELECT generate_series(1, 20);
CREATE TABLE copied (id int);     INSERT INTO copied SELECT generate_series(1, 10);
CREATE SCHEMA billing;
CREATE TABLE billing.big (id int, pad text);
INSERT INTO billing.big SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g;
"""

MIGRATION = """
ALTER TABLE moved RENAME TO relocated;
DROP TABLE dropped;
DROP TABLE emptied;
DROP TABLE rebuilt; CREATE TABLE rebuilt (id int);
CREATE TABLE copied_new AS SELECT * FROM copied; DROP TABLE copied;
ALTER TABLE copied_new RENAME TO copied;
CREATE TABLE brand_new (id int); INSERT INTO brand_new VALUES (1);
DELETE FROM billing.big WHERE id <= 10;
"""


def test_counts_follow_renames_and_name_every_loss(pg: LocalServer, fresh_db: str) -> None:
    run_sql(pg, fresh_db, SETUP)
    with pg.connect(fresh_db) as conn:
        # billing.big is above the exact-count limit: estimated, and marked so.
        before = count_rows(conn, exact_max_bytes=1024 * 1024)
    assert {t.qualified: t.estimated for t in before.values()}["billing.big"] is True
    run_sql(pg, fresh_db, MIGRATION)
    with pg.connect(fresh_db) as conn:
        estimated = [oid for oid, table in before.items() if table.estimated]
        after = count_rows(conn, exact_max_bytes=1024 * 1024, estimate_oids=estimated)

    changes = {change.name: change for change in compare_counts(before, after, ())}
    assert not changes["public.kept"].problem
    assert changes["public.moved"].note == "renamed to public.relocated; rows kept (40)"
    assert not changes["public.moved"].problem
    assert changes["public.dropped"].problem and "dropped with its 30 rows" in (
        changes["public.dropped"].note
    )
    assert not changes["public.emptied"].problem  # nothing lost
    assert changes["public.rebuilt"].problem
    assert "dropped and recreated" in changes["public.rebuilt"].note
    assert "20 -> 0" in changes["public.rebuilt"].note
    # Rebuilt under a new OID with every row: reported, not a failure.
    assert not changes["public.copied"].problem
    assert "dropped and recreated" in changes["public.copied"].note
    assert changes["public.brand_new"].note == "new table (1 rows)"
    # Ten rows of 20000 is within an estimate's tolerance.
    assert not changes["billing.big"].problem

    allowed = {c.name: c for c in compare_counts(before, after, ("dropped", "public.rebuilt"))}
    assert not allowed["public.dropped"].problem and not allowed["public.rebuilt"].problem
    assert "expected" in allowed["public.dropped"].note


GROWTH_SETUP = """
CREATE TABLE django_migrations (id serial, name text);
INSERT INTO django_migrations (name) VALUES ('0001_initial');
CREATE TABLE "__EFMigrationsHistory" (id text);
INSERT INTO "__EFMigrationsHistory" VALUES ('1');
CREATE TABLE auth_permission (id serial, codename text);
INSERT INTO auth_permission (codename) VALUES ('add_book');
CREATE TABLE orders (id int);   INSERT INTO orders SELECT generate_series(1, 10);
CREATE TABLE invoices (id int); INSERT INTO invoices SELECT generate_series(1, 10);
"""

GROWTH_MIGRATION = """
INSERT INTO django_migrations (name) VALUES ('0002_rename'), ('0003_author');
INSERT INTO "__EFMigrationsHistory" VALUES ('2');
INSERT INTO auth_permission (codename) VALUES ('add_author'), ('view_author');
INSERT INTO orders VALUES (11), (12);
DELETE FROM invoices WHERE id = 1;
"""


def test_gained_rows_are_told_apart_from_lost_ones(pg: LocalServer, fresh_db: str) -> None:
    run_sql(pg, fresh_db, GROWTH_SETUP)
    with pg.connect(fresh_db) as conn:
        before = count_rows(conn, exact_max_bytes=1024 * 1024)
    run_sql(pg, fresh_db, GROWTH_MIGRATION)
    with pg.connect(fresh_db) as conn:
        after = count_rows(conn, exact_max_bytes=1024 * 1024)

    changes = {change.name: change for change in compare_counts(before, after, ())}
    # Migration tools' own history tables and Django's registry grow: never a failure.
    for table in ("public.django_migrations", "public.__EFMigrationsHistory"):
        assert not changes[table].problem and changes[table].bookkeeping
        assert "migration bookkeeping" in changes[table].note
    assert not changes["public.auth_permission"].problem
    assert changes["public.django_migrations"].gained == 2
    # Rows gained elsewhere: listed, not a failure by default.
    assert not changes["public.orders"].problem
    assert changes["public.orders"].gained == 2
    assert changes["public.orders"].note == "rows 10 -> 12 (gained 2)"
    # Rows lost: a failure.
    assert changes["public.invoices"].problem and changes["public.invoices"].gained == 0

    strict = {c.name: c for c in compare_counts(before, after, (), fail_on_gained=True)}
    assert strict["public.orders"].problem
    assert "check.fail_on_gained_rows" in strict["public.orders"].note
    # Even then, the bookkeeping tables are meant to grow.
    assert not strict["public.django_migrations"].problem
    assert not strict["public.auth_permission"].problem
