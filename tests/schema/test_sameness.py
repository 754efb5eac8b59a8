"""The corpus of sameness: one schema reached by different routes must give exit 0."""

from __future__ import annotations

from prodclone.local.server import LocalServer
from prodclone.schema import DiffResult, render_text
from tests.schema.helpers import Databases, compare


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
