"""Variables, records, search_path and the function's own temp tables are not stale names."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from prodclone.local.server import LocalServer
from prodclone.references.render import render_text
from tests.conftest import dedent, run_sql
from tests.references.helpers import check
from tests.schema.older_server import older_bin_dir, older_server

SCHEMA = dedent(
    """
    CREATE SCHEMA billing;
    CREATE TYPE billing.mood AS ENUM ('calm', 'busy');
    CREATE TABLE billing.items (
        id serial PRIMARY KEY, name text UNIQUE, qty int, mood billing.mood, tags text[],
        meta jsonb
    );
    CREATE TABLE billing.audit (id serial, item_id int, what text);
    """
)

FUNCTIONS = dedent(
    """
    -- Only its own search_path finds billing.items unqualified.
    CREATE FUNCTION public.item_count() RETURNS bigint LANGUAGE plpgsql
    SET search_path = billing, pg_catalog AS $$
    BEGIN
        RETURN (SELECT count(*) FROM items);
    END;
    $$;
    CREATE FUNCTION public.item_names() RETURNS SETOF text LANGUAGE sql
    SET search_path = billing AS $$ SELECT name FROM items $$;

    CREATE FUNCTION public.restock(p_id int, VARIADIC extra text[])
    RETURNS TABLE (id int, name text) LANGUAGE plpgsql AS $$
    <<outer_block>>
    DECLARE
        r record;
        row_copy billing.items%ROWTYPE;
        wanted billing.mood := 'calm';
        total integer := 0;
        same_type total%TYPE;
        payload jsonb;
        items_cursor CURSOR (k int) FOR SELECT * FROM billing.items WHERE billing.items.id = k;
    BEGIN
        FOR r IN SELECT i.id, i.name, i.qty FROM billing.items i WHERE i.id = p_id LOOP
            id := r.id;
            name := r.name;
            total := total + coalesce(r.qty, 0);
            RETURN NEXT;
        END LOOP;
        RETURN QUERY SELECT i.id, i.name FROM billing.items i
            WHERE i.mood = wanted AND i.tags && extra;
        SELECT * INTO row_copy FROM billing.items WHERE billing.items.id = restock.p_id;
        IF NOT FOUND THEN
            RAISE NOTICE 'no item %', p_id;
        END IF;
        UPDATE billing.items SET qty = coalesce(qty, 0) + outer_block.total
        WHERE billing.items.id = p_id;
        GET DIAGNOSTICS total = ROW_COUNT;
        CASE wanted WHEN 'calm' THEN payload := '{}'; ELSE payload := NULL; END CASE;
        OPEN items_cursor(p_id);
        FETCH items_cursor INTO r;
        CLOSE items_cursor;
        payload := jsonb_build_object('name', r.name, 'copy', row_copy.name);
        FOR i IN 1..total LOOP
            same_type := i;
        END LOOP;
        INSERT INTO billing.items (name, qty) VALUES ('n', 1)
        ON CONFLICT (name) DO UPDATE SET qty = excluded.qty + 1;
        BEGIN
            PERFORM 1 / 0;
        EXCEPTION WHEN division_by_zero THEN
            RAISE WARNING 'failed: %', sqlerrm;
        END;
    END;
    $$;

    CREATE FUNCTION public.audit_item() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            INSERT INTO billing.audit (item_id, what) VALUES (OLD.id, TG_TABLE_NAME);
            RETURN OLD;
        END IF;
        NEW.qty := coalesce(NEW.qty, 0);
        IF NEW.meta ? 'name' THEN
            NEW.name := NEW.meta ->> 'name';
        END IF;
        INSERT INTO billing.audit (item_id, what) SELECT NEW.id, row_to_json(NEW)::text;
        RETURN NEW;
    END;
    $$;
    CREATE TRIGGER audit_item BEFORE INSERT OR UPDATE OR DELETE ON billing.items
        FOR EACH ROW EXECUTE FUNCTION public.audit_item();

    CREATE FUNCTION public.scratch_totals() RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
        n bigint;
    BEGIN
        CREATE TEMP TABLE scratch ON COMMIT DROP AS SELECT id FROM billing.items;
        SELECT count(*) INTO n FROM scratch;
        RETURN n;
    END;
    $$;

    CREATE PROCEDURE public.bump(INOUT n int) LANGUAGE plpgsql AS $$
    BEGIN
        n := n + 1;
        COMMIT;
    END;
    $$;
    CREATE FUNCTION public.same(value anyelement) RETURNS anyelement LANGUAGE plpgsql AS $$
    BEGIN
        RETURN value;
    END;
    $$;
    CREATE FUNCTION public.atomic_one() RETURNS int LANGUAGE sql
    BEGIN ATOMIC SELECT 1; END;
    """
)


def test_variables_records_and_search_path_raise_no_false_alarm(
    pg: LocalServer, fresh_db: str
) -> None:
    run_sql(pg, fresh_db, SCHEMA + FUNCTIONS)
    report = check(pg, fresh_db)
    # Nothing ran: the functions' INSERTs and UPDATEs were prepared, never executed.
    with psycopg.connect(pg.url(fresh_db)) as conn:
        assert conn.execute("SELECT count(*) FROM billing.items").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM billing.audit").fetchone() == (0,)
    lines = render_text(report).splitlines()
    assert report.findings == [], lines
    # The temp table the function makes for itself is only not checked; BEGIN ATOMIC
    # bodies are PostgreSQL's own to track.
    assert lines == [
        f"references in {fresh_db}: 7 function(s) checked (6 PL/pgSQL, 1 SQL, "
        f"{report.statements} statement(s) and expression(s)); 0 broken reference(s); "
        "1 not checked",
        "",
        "Not checked:",
        "  public.scratch_totals() line 6: uses table scratch, which the function creates itself",
    ]


MORE_SHAPES = dedent(
    """
    CREATE TABLE docs (id serial PRIMARY KEY, status text, owner int, tags text[]);
    CREATE TABLE owners (id int PRIMARY KEY, name text);
    CREATE FUNCTION plus_one(v anyelement) RETURNS anyelement LANGUAGE plpgsql AS $$
    BEGIN
        RETURN v + 1;
    END;
    $$;
    CREATE FUNCTION doc_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        status text;
        copy docs%ROWTYPE;
    BEGIN
        SELECT d.status INTO status FROM docs d WHERE d.id = NEW.id;
        copy.status := status;
        copy := NEW;
        NEW.tags := array_append(NEW.tags, TG_ARGV[0]);
        PERFORM * FROM docs, LATERAL (SELECT o.name FROM owners o WHERE o.id = docs.owner) x;
        RETURN NEW;
    END;
    $$;
    CREATE TRIGGER doc_guard BEFORE INSERT ON docs
        FOR EACH ROW EXECUTE FUNCTION doc_guard('open');
    CREATE FUNCTION loop_total() RETURNS int LANGUAGE plpgsql AS $$
    DECLARE
        total int := 0;
    BEGIN
        <<numbers>>
        FOR i IN 1..3 LOOP
            total := total + numbers.i;
        END LOOP;
        RETURN total;
    END;
    $$;
    """
)


def test_rowtype_fields_polymorphic_arguments_and_loop_labels_raise_no_false_alarm(
    pg: LocalServer, fresh_db: str
) -> None:
    run_sql(pg, fresh_db, MORE_SHAPES)
    report = check(pg, fresh_db)
    assert (report.findings, report.not_checked) == ([], []), render_text(report)
    run_sql(pg, fresh_db, "ALTER TABLE docs RENAME COLUMN status TO state")
    report = check(pg, fresh_db)
    assert [finding.text() for finding in report.findings] == [
        "public.doc_guard() line 6: column d.status does not exist "
        "(trigger doc_guard on public.docs)",
        'public.doc_guard() line 7: column "status" not found in data type docs '
        "(trigger doc_guard on public.docs)",
    ]


def test_a_record_field_its_query_does_not_have_is_found(pg: LocalServer, fresh_db: str) -> None:
    run_sql(
        pg,
        fresh_db,
        SCHEMA
        + dedent(
            """
            CREATE FUNCTION public.last_audit() RETURNS text LANGUAGE plpgsql AS $$
            DECLARE
                r record;
            BEGIN
                SELECT id, what INTO r FROM billing.audit ORDER BY id DESC LIMIT 1;
                RETURN r.item_name;
            END;
            $$;
            """
        ),
    )
    report = check(pg, fresh_db)
    assert [finding.text() for finding in report.findings] == [
        'public.last_audit() line 6: record "r" has no field "item_name"'
    ]


@pytest.fixture(scope="module")
def older(pg: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> LocalServer:
    bin_dir = older_bin_dir(pg.major_version())
    if bin_dir is None:
        pytest.skip("no older PostgreSQL server is installed (/usr/lib/postgresql/<N>/bin)")
    with older_server(bin_dir, Path(tmp_path_factory.mktemp("older"))) as server:
        yield server  # type: ignore[misc]


def test_older_server_checks_the_same(older: LocalServer) -> None:
    with older.connect() as conn:
        conn.execute("DROP DATABASE IF EXISTS refs")
        conn.execute("CREATE DATABASE refs")
    run_sql(older, "refs", SCHEMA + FUNCTIONS.split("CREATE FUNCTION public.atomic_one")[0])
    run_sql(older, "refs", "ALTER TABLE billing.items RENAME COLUMN meta TO details")
    report = check(older, "refs")
    assert [finding.text() for finding in report.findings] == [
        f'public.audit_item() line {line}: column "meta" not found in data type billing.items '
        "(trigger audit_item on billing.items)"
        for line in (8, 9)
    ]


def test_a_name_only_the_callers_search_path_finds_is_not_a_finding(
    pg: LocalServer, fresh_db: str
) -> None:
    run_sql(
        pg,
        fresh_db,
        dedent(
            """
            SET check_function_bodies = off;  -- as a restore of a dump does
            CREATE SCHEMA app;
            CREATE TABLE app.jobs (id int);
            CREATE FUNCTION app.job_count() RETURNS bigint LANGUAGE plpgsql AS $$
            BEGIN
                RETURN (SELECT count(*) FROM jobs);
            END;
            $$;
            CREATE FUNCTION app.job_ids() RETURNS SETOF int LANGUAGE sql AS $$
                SELECT id FROM jobs
            $$;
            CREATE FUNCTION app.lost() RETURNS bigint LANGUAGE sql AS $$
                SELECT count(*) FROM no_such_jobs
            $$;
            """
        ),
    )
    report = check(pg, fresh_db)
    assert [item.text() for item in report.findings + report.not_checked] == [
        'app.lost() line 2: relation "no_such_jobs" does not exist',
        "app.job_count() line 3: finds jobs only with schema app on the search_path, which "
        "the function does not set: its callers' decides",
        "app.job_ids() line 2: finds jobs only with schema app on the search_path, which "
        "the function does not set: its callers' decides",
    ]
