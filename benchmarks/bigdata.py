"""A large database with realistic, non-repetitive data, for benchmarks.

`build_big_database(server, dbname, target_bytes)` creates `dbname` (marked as
ours) when it is missing and fills it, in batches generated on the server,
until `pg_database_size` reaches `target_bytes`. Calling it again on a database
that is already large enough does nothing, so several benchmarks can share one.

The data mimics a shop: customers, orders, order lines and a JSON event log,
with names and notes built from random syllables, skewed numbers, timestamps
spread over years and indexes, so compressors see text that repeats the way
production text does (a vocabulary, not one row copied) rather than either
constant strings or incompressible noise.

Run it on its own: `python benchmarks/bigdata.py [--gb 1.0] [--db bench_big]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from prodclone.local.server import LocalServer
from prodclone.pg import databases

_SYLLABLE_TEXT = (
    "ka ri to mo na le si va de lu pa ne ro ti sa me ko ba li zu "
    "an el or is ul en ar et on ic th st sh ch qu br gr pl tr fl"
)
_SYLLABLES = _SYLLABLE_TEXT.split()

_SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    id bigint PRIMARY KEY,
    full_name text NOT NULL,
    email text NOT NULL,
    country char(2) NOT NULL,
    tier text NOT NULL,
    created_at timestamptz NOT NULL,
    notes text
);
CREATE TABLE IF NOT EXISTS orders (
    id bigint PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id),
    status text NOT NULL,
    total numeric(12, 2) NOT NULL,
    placed_at timestamptz NOT NULL,
    shipping_address text NOT NULL
);
CREATE TABLE IF NOT EXISTS order_lines (
    order_id bigint NOT NULL REFERENCES orders (id),
    line_no int NOT NULL,
    sku text NOT NULL,
    quantity int NOT NULL,
    unit_price numeric(10, 2) NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE TABLE IF NOT EXISTS events (
    id bigint PRIMARY KEY,
    customer_id bigint NOT NULL,
    kind text NOT NULL,
    at timestamptz NOT NULL,
    payload jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_customer_idx ON orders (customer_id);
CREATE INDEX IF NOT EXISTS events_customer_at_idx ON events (customer_id, at);
"""

# One batch: customers c0+1..c0+n, each with ~3 orders of ~3 lines and ~6 events.
# The word helper is plain SQL (inlined, volatile) so each row draws its own words.
_WORD_FN = """
CREATE OR REPLACE FUNCTION bench_word(syl text[]) RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT string_agg(syl[1 + floor(random() * array_length(syl, 1))::int], '')
    FROM generate_series(1, 2 + floor(random() * 3)::int)
$$;
CREATE OR REPLACE FUNCTION bench_words(syl text[], n int) RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT string_agg(bench_word(syl), ' ') FROM generate_series(1, n)
$$;
"""

_BATCH = """
INSERT INTO customers
SELECT g,
       initcap(bench_word(%(syl)s)) || ' ' || initcap(bench_word(%(syl)s)),
       bench_word(%(syl)s) || '.' || g || '@' || bench_word(%(syl)s) || '.example',
       (ARRAY['DE','FR','US','GB','NL','ES','IT','PL','SE','JP'])[1 + floor(random() * 10)::int],
       (ARRAY['free','free','free','basic','basic','pro','enterprise'])
           [1 + floor(random() * 7)::int],
       now() - random() * interval '2000 days',
       CASE WHEN random() < 0.4 THEN bench_words(%(syl)s, 4 + floor(random() * 20)::int) END
FROM generate_series(%(c0)s::bigint + 1, %(c0)s::bigint + %(n)s::bigint) AS g;

INSERT INTO orders
SELECT c * 4 + k,
       c,
       (ARRAY['placed','paid','shipped','shipped','delivered','delivered','refunded'])
           [1 + floor(random() * 7)::int],
       round((exp(random() * 7))::numeric, 2),
       now() - random() * interval '1500 days',
       (10 + floor(random() * 990))::int || ' ' || initcap(bench_word(%(syl)s)) || ' Street, '
           || (10000 + floor(random() * 89999))::int || ' ' || initcap(bench_word(%(syl)s))
FROM generate_series(%(c0)s::bigint + 1, %(c0)s::bigint + %(n)s::bigint) AS c,
     generate_series(0, floor(random() * 4 + c * 0)::int) AS k;

INSERT INTO order_lines
SELECT o.id, l,
       upper(substr(md5(random()::text), 1, 3)) || '-' || (1000 + floor(random() * 9000))::int,
       1 + floor(random() * random() * 10)::int,
       round((1 + random() * 250)::numeric, 2)
FROM orders o, generate_series(1, 1 + floor(random() * 5 + o.id * 0)::int) AS l
WHERE o.customer_id > %(c0)s::bigint
  AND o.customer_id <= %(c0)s::bigint + %(n)s::bigint;

INSERT INTO events
SELECT c * 16 + k,
       c,
       (ARRAY['login','view','view','view','search','cart','checkout','logout'])
           [1 + floor(random() * 8)::int],
       now() - random() * interval '700 days',
       jsonb_build_object(
           'ip', (floor(random() * 223) + 1)::int || '.' || floor(random() * 255)::int || '.'
                 || floor(random() * 255)::int || '.' || floor(random() * 255)::int,
           'agent', (ARRAY['Firefox','Chrome','Safari','Edge'])[1 + floor(random() * 4)::int]
                 || '/' || (80 + floor(random() * 50))::int,
           'query', CASE WHEN random() < 0.3 THEN bench_words(%(syl)s, 1 + floor(random() * 4)::int)
                    END,
           'ms', floor(random() * random() * 3000)::int,
           'session', substr(md5(random()::text), 1, 16))
FROM generate_series(%(c0)s::bigint + 1, %(c0)s::bigint + %(n)s::bigint) AS c,
     generate_series(0, floor(random() * 12 + c * 0)::int) AS k;
"""

_BATCH_CUSTOMERS = 20_000


def database_size(server: LocalServer, dbname: str) -> int:
    with server.connect(dbname) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def build_big_database(server: LocalServer, dbname: str, target_bytes: int) -> None:
    """Create (if missing) and grow `dbname` until it holds at least `target_bytes`."""
    with server.connect() as conn:
        info = databases.require_ours_or_absent(conn, dbname)
        if info is None:
            databases.create(conn, dbname, "bench generated data for benchmarks/")
    with server.connect(dbname) as conn:
        conn.execute(_SCHEMA)
        conn.execute(_WORD_FN)
        while True:
            size_row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
            if size_row is None or int(size_row[0]) >= target_bytes:
                break
            top = conn.execute("SELECT coalesce(max(id), 0) FROM customers").fetchone()
            first = int(top[0]) if top else 0
            params = {"syl": list(_SYLLABLES), "c0": first, "n": _BATCH_CUSTOMERS}
            with conn.transaction():
                for statement in _BATCH.split(";\n"):
                    if statement.strip():
                        conn.execute(statement, params)
        conn.execute("VACUUM ANALYZE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--gb", type=float, default=1.0, help="target size in GiB")
    parser.add_argument("--db", default="bench_big", help="database name")
    parser.add_argument(
        "--data-dir", default=".prodclone-bench", help="embedded server data folder"
    )
    args = parser.parse_args(argv)
    from prodclone.local.server import resolve_server
    from prodclone.settings import load_settings

    settings = load_settings({"prodclone": {"local": {"data_dir": args.data_dir}}}, Path.cwd())
    server = resolve_server(settings.local)
    started = time.monotonic()
    build_big_database(server, args.db, int(args.gb * 1024**3))
    size = database_size(server, args.db)
    print(f"{args.db}: {size / 1024**2:.0f} MiB in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
