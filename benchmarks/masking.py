"""How fast masking is, against the plainest UPDATE of the same columns.

Builds (or reuses) a database on the embedded server whose largest table,
`people`, holds an email (unique index), a full name and a phone number per
row, then measures, each on a fresh copy of that database:

- the baseline: one `UPDATE people SET email = md5(email), full_name =
  md5(full_name), phone = md5(phone)`;
- prodclone's masking of the same three columns (email, name, digits): the
  rules checked against the catalog, a sample taken, the one UPDATE with
  session_replication_role = replica, the sample checked afterwards.

Run: `python benchmarks/masking.py [--rows 5000000] [--repeat 2] [--out FILE]`
(the results: benchmarks/results/masking.md; about 5 million rows make a 1 GiB database).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from prodclone.local.server import LocalServer, resolve_server
from prodclone.mask.apply import mask_database
from prodclone.mask.rules import parse_rules
from prodclone.pg import databases
from prodclone.settings import load_settings

BASE = "bench_mask_base"
COPY = "bench_mask_copy"
RULES = {
    "public.people.email": "email",
    "public.people.full_name": "name",
    "public.people.phone": "digits",
}
BASELINE = "UPDATE people SET email = md5(email), full_name = md5(full_name), phone = md5(phone)"
SCHEMA = """
CREATE TABLE people (
    id bigint PRIMARY KEY,
    email text NOT NULL UNIQUE,
    full_name text NOT NULL,
    phone text,
    city text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE visits (
    id bigint PRIMARY KEY,
    person_id bigint NOT NULL REFERENCES people (id),
    at timestamptz NOT NULL
);
"""
BATCH = (
    """
INSERT INTO people
SELECT g,
       'p' || g || '.' || substr(md5(g::text), 1, 6) || '@mail' || (g %% 50) || '.example',
       initcap(substr(md5('f' || g), 1, (3 + g %% 5)::int)) || ' '
           || initcap(substr(md5('l' || g), 1, (4 + g %% 6)::int)),
       '+' || (1 + g %% 60) || ' ' || (100 + g %% 900) || '-'
           || lpad((g %% 10000000)::text, 7, '0'),
       (ARRAY['Berlin','Paris','Austin','Leeds','Delft','Porto','Turin','Lodz'])[1 + (g %% 8)::int],
       now() - (g %% 2000) * interval '1 day'
FROM generate_series(%(start)s::bigint, %(stop)s::bigint) g""",
    """INSERT INTO visits SELECT g, g, now()
FROM generate_series(%(start)s::bigint, %(stop)s::bigint, 4) g;
""",
)


def build(server: LocalServer, rows: int) -> None:
    with server.connect() as conn:
        found = databases.find(conn, BASE)
        if found is not None and found.comment.endswith(f"rows={rows}"):
            return
        databases.drop(conn, BASE)
        databases.create(conn, BASE, "staging masking benchmark (filling)")
    with server.connect(BASE) as conn:
        conn.execute(SCHEMA)
        step = 500_000
        for start in range(1, rows + 1, step):
            for statement in BATCH:
                conn.execute(statement, {"start": start, "stop": min(start + step - 1, rows)})
        conn.execute("VACUUM ANALYZE")
    with server.connect() as conn:  # marked complete only once it is full
        databases.mark(conn, BASE, f"staging masking benchmark rows={rows}")


def fresh_copy(server: LocalServer) -> None:
    with server.connect() as conn:
        databases.drop(conn, COPY)
        databases.create(conn, COPY, "staging masking benchmark copy", template=BASE)
        conn.execute(f'ALTER DATABASE "{COPY}" SET search_path = public')


def timed(step: Callable[[], object]) -> float:
    os.sync()
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def baseline(server: LocalServer) -> None:
    with server.connect(COPY) as conn:
        conn.execute(BASELINE)


def masking(server: LocalServer) -> None:
    with server.connect(COPY, autocommit=False) as conn:
        mask_database(conn, parse_rules(RULES), "benchmark secret")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--data-dir", type=Path, default=Path(".prodclone-bench"))
    args = parser.parse_args()
    data_dir = args.data_dir if args.data_dir.is_absolute() else Path.cwd() / args.data_dir
    settings = load_settings({"prodclone": {"local": {"data_dir": str(data_dir)}}})
    server = resolve_server(settings.local)
    started = time.perf_counter()
    build(server, args.rows)
    print(f"database ready in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    with server.connect(BASE) as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        table = conn.execute("SELECT pg_total_relation_size('people')").fetchone()
    assert size and table
    times: dict[str, list[float]] = {"baseline": [], "masking": []}
    for _ in range(args.repeat):
        for name, step in (("baseline", baseline), ("masking", masking)):
            fresh_copy(server)
            times[name].append(timed(lambda step=step: step(server)))
            print(f"{name}: {times[name][-1]:.1f}s", file=sys.stderr)
    with server.connect() as conn:
        databases.drop(conn, COPY)
    base = statistics.median(times["baseline"])
    mask = statistics.median(times["masking"])
    lines = [
        "# Masking benchmark",
        "",
        f"Command: `python benchmarks/masking.py --rows {args.rows} --repeat {args.repeat}`",
        "",
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores "
        f"(shared with other work while it ran), PostgreSQL 18 (embedded, fsync off); "
        f"run {time.strftime('%Y-%m-%d')}. Each step runs on a fresh copy of the database, "
        "after `sync`.",
        "",
        f"Database: {int(size[0]) / 1024**2:.0f} MiB; its largest table `people` "
        f"{int(table[0]) / 1024**2:.0f} MiB with indexes, {args.rows} rows; masked columns "
        "email (email, unique index), full_name (name), phone (digits).",
        "",
        "| step | seconds (median) | vs baseline |",
        "| --- | ---: | ---: |",
        f"| baseline `UPDATE ... SET col = md5(col)` x3 | {base:.1f} | 1.00x |",
        f"| prodclone masking (check, sample, UPDATE, verify) | {mask:.1f} | {mask / base:.2f}x |",
        "",
        f"Masking / baseline: **{mask / base:.2f}x** (target: at most 2x).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
