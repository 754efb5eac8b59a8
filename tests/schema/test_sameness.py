"""The corpus of sameness: one schema reached by different routes must give exit 0."""

from __future__ import annotations

from pathlib import Path

from psycopg import sql

from prodclone.local.server import LocalServer
from prodclone.schema import DiffResult, render_text
from tests.schema.helpers import Databases, compare, dump_and_restore


def same(pg: LocalServer, dbs: Databases, sql_a: str, sql_b: str) -> DiffResult:
    a = dbs.create(sql_a, "a")
    b = dbs.create(sql_b, "b")
    result = compare(pg, a, b)
    assert result.differences == [], render_text(result)
    assert result.exit_code == 0
    return result


CUSTOMERS = "CREATE TABLE customers (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE);"
ORDERS = """CREATE TABLE orders (id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id), total numeric(12, 2));"""
ORDERS_INDEX = "CREATE INDEX orders_customer_idx ON orders (customer_id);"
TOTALS = "CREATE VIEW customer_totals AS SELECT customer_id, sum(total) FROM orders GROUP BY 1;"
STATUS = "CREATE TYPE status AS ENUM ('new', 'paid');"
HELPER = "CREATE FUNCTION answer() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 42';"


def test_objects_created_in_another_order(pg: LocalServer, dbs: Databases) -> None:
    result = same(
        pg,
        dbs,
        "\n".join([CUSTOMERS, ORDERS, ORDERS_INDEX, TOTALS, STATUS, HELPER]),
        "\n".join([HELPER, STATUS, CUSTOMERS, ORDERS, TOTALS, ORDERS_INDEX]),
    )
    assert result.objects_compared() > 10


def test_different_data_and_sequence_positions(pg: LocalServer, dbs: Databases) -> None:
    data = """
INSERT INTO customers (email) SELECT 'c' || g || '@example.com' FROM generate_series(1, 50) g;
INSERT INTO orders (customer_id, total) SELECT 1 + g % 50, g FROM generate_series(1, 500) g;
SELECT setval('customers_id_seq', 9000);
"""
    same(pg, dbs, CUSTOMERS + ORDERS + data, CUSTOMERS + ORDERS)


def test_dropped_columns(pg: LocalServer, dbs: Databases) -> None:
    same(
        pg,
        dbs,
        """CREATE TABLE t (id int, gone text, a text, also_gone int, b text);
           ALTER TABLE t DROP COLUMN gone; ALTER TABLE t DROP COLUMN also_gone;""",
        "CREATE TABLE t (id int, a text, b text);",
    )


def test_enum_built_with_add_value(pg: LocalServer, dbs: Databases) -> None:
    same(
        pg,
        dbs,
        """CREATE TYPE mood AS ENUM ('sad', 'happy');
           ALTER TYPE mood ADD VALUE 'ok' BEFORE 'happy';
           ALTER TYPE mood ADD VALUE 'ecstatic';""",
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'ecstatic');",
    )


def test_constraints_inline_or_by_alter_table(pg: LocalServer, dbs: Databases) -> None:
    same(
        pg,
        dbs,
        CUSTOMERS
        + """CREATE TABLE orders (id bigint PRIMARY KEY,
                 customer_id bigint REFERENCES customers (id) ON DELETE CASCADE,
                 total int CHECK (total >= 0), code text UNIQUE);""",
        CUSTOMERS
        + """CREATE TABLE orders (id bigint, customer_id bigint, total int, code text);
             ALTER TABLE orders ADD CONSTRAINT orders_pkey PRIMARY KEY (id);
             ALTER TABLE orders ADD CONSTRAINT orders_customer_id_fkey
                 FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE;
             ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0);
             ALTER TABLE orders ADD CONSTRAINT orders_code_key UNIQUE (code);""",
    )


def test_table_renamed_with_everything_renamed(pg: LocalServer, dbs: Databases) -> None:
    same(
        pg,
        dbs,
        """CREATE TABLE orders (id serial PRIMARY KEY, total int CHECK (total > 0), day date);
           CREATE INDEX orders_day_idx ON orders (day);
           ALTER TABLE orders RENAME TO purchases;
           ALTER INDEX orders_pkey RENAME TO purchases_pkey;
           ALTER INDEX orders_day_idx RENAME TO purchases_day_idx;
           ALTER SEQUENCE orders_id_seq RENAME TO purchases_id_seq;
           ALTER TABLE purchases RENAME CONSTRAINT orders_total_check TO purchases_total_check;
           ALTER TABLE purchases RENAME CONSTRAINT orders_id_not_null TO purchases_id_not_null;
        """,
        """CREATE TABLE purchases (id serial PRIMARY KEY, total int CHECK (total > 0), day date);
           CREATE INDEX purchases_day_idx ON purchases (day);""",
    )


def test_different_owners(pg: LocalServer, dbs: Databases, reader_role: str) -> None:
    result = same(
        pg,
        dbs,
        CUSTOMERS
        + ORDERS
        + TOTALS
        + HELPER
        + STATUS
        + """ALTER TABLE customers OWNER TO sd_owner; ALTER TABLE orders OWNER TO sd_owner;
             ALTER VIEW customer_totals OWNER TO sd_owner;
             ALTER FUNCTION answer() OWNER TO sd_owner; ALTER TYPE status OWNER TO sd_owner;""",
        CUSTOMERS + ORDERS + TOTALS + HELPER + STATUS,
    )
    # Owners are not compared by default, but every hidden difference is counted:
    # five objects and the two sequences that follow their tables' owner.
    assert result.hidden_count == 7
    assert "7 hidden (7 by owners" in result.summary()


def test_columns_added_and_dropped_over_time(pg: LocalServer, dbs: Databases) -> None:
    same(
        pg,
        dbs,
        """CREATE TABLE t (id int);
           ALTER TABLE t ADD a text; ALTER TABLE t ADD tmp int; ALTER TABLE t ADD b int DEFAULT 3;
           ALTER TABLE t DROP tmp; ALTER TABLE t ADD c date NOT NULL;
           CREATE VIEW tv AS SELECT * FROM t;""",
        """CREATE TABLE t (id int, a text, b int DEFAULT 3, c date NOT NULL);
           CREATE VIEW tv AS SELECT * FROM t;""",
    )


def test_not_null_identity_and_type_set_by_alter_table(pg: LocalServer, dbs: Databases) -> None:
    same(
        pg,
        dbs,
        """CREATE TABLE t (id int NOT NULL, a text, n int);
           ALTER TABLE t ALTER id ADD GENERATED ALWAYS AS IDENTITY;
           ALTER TABLE t ALTER a SET NOT NULL; ALTER TABLE t ALTER n TYPE bigint;
           ALTER TABLE t ALTER n SET STATISTICS 100; ALTER TABLE t ALTER n SET STATISTICS -1;
           ALTER TABLE t SET (fillfactor = 50); ALTER TABLE t RESET (fillfactor);""",
        "CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY, a text NOT NULL, n bigint);",
    )


def test_sequences_after_nextval_and_restart(pg: LocalServer, dbs: Databases) -> None:
    same(
        pg,
        dbs,
        CUSTOMERS
        + """SELECT nextval('customers_id_seq') FROM generate_series(1, 100);
             ALTER SEQUENCE customers_id_seq RESTART WITH 50;""",
        CUSTOMERS,
    )


def test_grants_and_default_privileges_by_other_routes(
    pg: LocalServer, dbs: Databases, reader_role: str
) -> None:
    same(
        pg,
        dbs,
        CUSTOMERS
        + HELPER
        + f"""
ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO {reader_role};
ALTER DEFAULT PRIVILEGES GRANT INSERT ON TABLES TO {reader_role};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT UPDATE ON TABLES TO {reader_role};
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE UPDATE ON TABLES FROM {reader_role};
GRANT SELECT ON customers TO {reader_role}; REVOKE SELECT ON customers FROM {reader_role};
REVOKE ALL ON FUNCTION answer() FROM PUBLIC; GRANT EXECUTE ON FUNCTION answer() TO PUBLIC;
GRANT ALL ON customers TO CURRENT_USER;""",
        CUSTOMERS
        + HELPER
        + f"ALTER DEFAULT PRIVILEGES GRANT INSERT, SELECT ON TABLES TO {reader_role};",
    )


def test_view_and_function_recreated(pg: LocalServer, dbs: Databases) -> None:
    same(
        pg,
        dbs,
        CUSTOMERS
        + ORDERS
        + TOTALS
        + HELPER
        + """DROP VIEW customer_totals;
             CREATE VIEW customer_totals AS SELECT customer_id, sum(total) FROM orders GROUP BY 1;
             CREATE OR REPLACE VIEW customer_totals AS
                 SELECT customer_id, sum(total) FROM orders GROUP BY 1;
             CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql IMMUTABLE
                 AS 'SELECT 42';""",
        CUSTOMERS + ORDERS + TOTALS + HELPER,
    )


def test_partition_attached_or_created_as_one(pg: LocalServer, dbs: Databases) -> None:
    parent = "CREATE TABLE days (id int, day date) PARTITION BY RANGE (day);"
    same(
        pg,
        dbs,
        parent
        + """CREATE TABLE days_2025 (id int, day date);
             ALTER TABLE days ATTACH PARTITION days_2025
                 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');""",
        parent
        + """CREATE TABLE days_2025 PARTITION OF days
                 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');""",
    )


def test_types_and_tables_moved_or_altered_into_shape(pg: LocalServer, dbs: Databases) -> None:
    same(
        pg,
        dbs,
        """CREATE SCHEMA app;
           CREATE TABLE public.t (id serial PRIMARY KEY); ALTER TABLE public.t SET SCHEMA app;
           CREATE TYPE app.pair AS (x int); ALTER TYPE app.pair ADD ATTRIBUTE tmp int;
           ALTER TYPE app.pair ADD ATTRIBUTE y text; ALTER TYPE app.pair DROP ATTRIBUTE tmp;
           CREATE DOMAIN app.positive AS int; ALTER DOMAIN app.positive ADD CHECK (VALUE > 0);
           ALTER DOMAIN app.positive SET NOT NULL;
           CREATE TYPE app.mood AS ENUM ('sad', 'fine');
           ALTER TYPE app.mood RENAME VALUE 'fine' TO 'ok';
           ALTER TABLE app.t ENABLE ROW LEVEL SECURITY;
           ALTER TABLE app.t DISABLE ROW LEVEL SECURITY;
           COMMENT ON TABLE app.t IS 'gone'; COMMENT ON TABLE app.t IS NULL;""",
        """CREATE SCHEMA app; CREATE TABLE app.t (id serial PRIMARY KEY);
           CREATE TYPE app.pair AS (x int, y text);
           CREATE DOMAIN app.positive AS int NOT NULL CHECK (VALUE > 0);
           CREATE TYPE app.mood AS ENUM ('sad', 'ok');""",
    )


def test_database_level_session_settings(pg: LocalServer, dbs: Databases) -> None:
    # Expressions are read with pg_dump's settings, whatever each database sets for its sessions.
    schema = """CREATE SCHEMA app;
CREATE TABLE app.t (id int, day date DEFAULT '2025-03-04', ratio float8 DEFAULT 0.1,
    gap interval DEFAULT '1 day 02:00');
CREATE VIEW app.v AS SELECT id FROM app.t WHERE day > '2025-01-31';"""
    a = dbs.create(schema, "a")
    b = dbs.create(schema, "b")
    settings = {
        "search_path": sql.SQL("app, public"),
        "DateStyle": sql.Literal("SQL, DMY"),
        "IntervalStyle": sql.Literal("sql_standard"),
        "extra_float_digits": sql.Literal(-3),
    }
    with pg.connect() as conn:
        for name, value in settings.items():
            conn.execute(
                sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                    sql.Identifier(a), sql.Identifier(name), value
                )
            )
    result = compare(pg, a, b)
    assert result.differences == [], render_text(result)


def test_same_grants_issued_in_another_order(
    pg: LocalServer, dbs: Databases, reader_role: str
) -> None:
    grants = [
        "GRANT SELECT ON customers TO {}",
        "GRANT UPDATE (email) ON customers TO {}",
        "GRANT USAGE ON SEQUENCE customers_id_seq TO {}",
        "GRANT EXECUTE ON FUNCTION answer() TO {}",
        "GRANT USAGE ON SCHEMA public TO {}",
        "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO {}",
    ]
    roles = (reader_role, "sd_owner")
    first = "".join(grant.format(role) + ";\n" for grant in grants for role in roles)
    second = "".join(grant.format(role) + ";\n" for grant in grants for role in reversed(roles))
    # The acl items, and so pg_dump's GRANT lines, come in the order they were issued.
    same(pg, dbs, CUSTOMERS + HELPER + first, CUSTOMERS + HELPER + second)


EVENTS = "CREATE TABLE ev (id int, day date, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);"
EV_2024 = "CREATE TABLE ev_2024 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"
EV_2025 = "CREATE TABLE ev_2025 PARTITION OF ev FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"
NOTES = """CREATE TABLE note (id int, ev_id int, ev_day date,
    CONSTRAINT note_ev_fk FOREIGN KEY (ev_id, ev_day) REFERENCES ev ON DELETE CASCADE);"""


def test_foreign_key_copies_numbered_in_another_partition_order(
    pg: LocalServer, dbs: Databases
) -> None:
    # Partitions made after the key get its copies `_1`, `_2` in the order they were made;
    # a restore makes every partition first, and numbers them in partition order.
    result = same(pg, dbs, EVENTS + NOTES + EV_2025 + EV_2024, EVENTS + EV_2024 + EV_2025 + NOTES)
    assert result.coverage["constraint"].a == 6  # two keys, the foreign key, three copies


# Django's CharField with choices, its conditional index, and a view over both.
CHOICES = """
CREATE DOMAIN shop_status AS varchar(10) CHECK (VALUE IN ({choices}));
CREATE TABLE shop_order (id int, status varchar(10) NOT NULL DEFAULT 'new'::varchar
    CONSTRAINT shop_order_status_check CHECK (status IN ({choices})), state shop_status);
CREATE POLICY shop_order_open ON shop_order USING (status IN ({choices}));
CREATE INDEX shop_order_open_idx ON shop_order (id) WHERE status IN ({choices});
CREATE VIEW open_orders AS SELECT id FROM shop_order WHERE status IN ({choices});
"""


def test_database_against_its_own_dump_and_restore(
    pg: LocalServer, dbs: Databases, tmp_path: Path
) -> None:
    # The restored copy stores the IN lists' casts elsewhere; they mean the same.
    original = dbs.create(CHOICES.format(choices="'new', 'paid'"), "orig")
    restored = dbs.create(label="restored")
    dump_and_restore(pg, original, restored, tmp_path / "orig.dump")
    result = compare(pg, original, restored)
    assert result.differences == [], render_text(result)
