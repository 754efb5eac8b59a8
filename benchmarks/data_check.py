"""The data check's cost on a ~1 GB clone, against one sequential scan of every table.

    python benchmarks/data_check.py [--rows 1450000] [--repeat 3] [--settings 64/64,64/512]

Builds the orcha example's production stand-in with `--rows` documents (kept, and
reused by later runs, in its own server folder), then times, warm:
- one sequential scan of every table (`count(*)` with index scans off): the yardstick;
- what refactor-check's baseline and data stages do: every column fingerprinted (whole,
  or on primary-key ranges above check.sample_above_mb), the row counts (exact up to
  check.exact_count_max_mb, from the same pass where a table was read whole), twice,
  and compared. Index-only scans are off there too: a freshly restored clone, which
  refactor-check reads, has no page marked all-visible yet (this one was vacuumed).
The target: baseline plus data check within 3x the yardstick, at the default settings.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

# The demo's production stand-in belongs to the repository, not the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demo.run import demo_settings, example_dir
from prodclone.check import columns, rowcounts
from prodclone.local.appcmd import run_command
from prodclone.local.server import resolve_server
from prodclone.pg import databases
from prodclone.settings import load_settings
from prodclone.settings.table import key
from prodclone.tasks._values import check_setup_of

DB = "orcha_bench_data"
DEFAULT_SAMPLE_MB = int(key("prodclone.check.sample_above_mb").default)
DEFAULT_EXACT_MB = int(key("prodclone.check.exact_count_max_mb").default)
NOTES = """\
Where the time goes: hashing every value of every column costs several scans of a
table (a per-type hash: integers, text, jsonb and timestamps by their own hash
functions, anything else by its text), so reading the two large tables whole, twice,
is far over the 3x target. Above check.sample_above_mb a table's columns are hashed on
64 ranges of its primary key (2% of its rows, at least 10,000): the start keys come
from a block sample of a few hundred pages; an integer key's ranges are sized from
that sample too (other keys: one index probe per range), and they are read through
the primary key's index, once at the baseline and by the same bounds after the
migration. That costs a small share of a scan, and a sampled table's row count is
scaled from what its ranges hold. Counting a sampled table exactly as well
(check.exact_count_max_mb above its size: a row lost outside the ranges then shows)
adds a full `count(*)` before and after, about one scan per pass.
"""
WATCH_SCHEMA = "prodclone_watch"


def sequential_scans(conn: psycopg.Connection) -> float:
    conn.execute("SET enable_indexscan = off; SET enable_indexonlyscan = off")
    conn.execute("SET enable_bitmapscan = off")
    started = time.perf_counter()
    for schema, name in conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg\\_toast%'"
    ).fetchall():
        conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name)))
    seconds = time.perf_counter() - started
    conn.execute("RESET ALL")
    return seconds


def baseline_and_data(
    conn: psycopg.Connection, sample_above: int, exact_max: int
) -> tuple[float, columns.Prints]:
    conn.execute("SET enable_indexonlyscan = off")  # as on a fresh restore (see above)
    started = time.perf_counter()
    before = columns.fingerprint(conn, sample_above, exclude_schema=WATCH_SCHEMA)
    counts = rowcounts.count_rows(
        conn,
        exact_max,
        known=columns.exact_counts(before),
        sampled=columns.sample_estimates(before),
    )
    after = columns.fingerprint(
        conn, sample_above, exclude_schema=WATCH_SCHEMA, samples=columns.sample_plan(before)
    )
    estimated = [oid for oid, table in counts.items() if table.estimated]
    again = rowcounts.count_rows(
        conn,
        exact_max,
        estimate_oids=estimated,
        known=columns.exact_counts(after),
        sampled=columns.sample_estimates(after),
    )
    problems = [c for c in columns.compare_columns(before, after, ()) if c.problem]
    problems += [c for c in rowcounts.compare_counts(counts, again, ()) if c.problem]  # type: ignore[misc]
    assert not problems, problems
    seconds = time.perf_counter() - started
    conn.execute("RESET ALL")
    return seconds, before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_450_000, help="documents (~0.7 KB each)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (median)")
    parser.add_argument("--data-dir", default=".prodclone-bench/data", help="server folder")
    parser.add_argument(
        "--settings",
        default=f"{DEFAULT_SAMPLE_MB}/{DEFAULT_EXACT_MB}",
        help="check.sample_above_mb/check.exact_count_max_mb pairs to time, comma-separated "
        f"({DEFAULT_SAMPLE_MB}/{DEFAULT_EXACT_MB}: the defaults; a size above the largest "
        "table: every table read whole, or counted exactly)",
    )
    parser.add_argument("--out", default="benchmarks/results/data_check.md")
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir).resolve()
    settings = load_settings({"prodclone": {"local": {"data_dir": str(data_dir)}}}, Path.cwd())
    server = resolve_server(settings.local)
    with server.connect() as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone()
    if not exists:
        print(f"building the orcha production stand-in with {args.rows} documents...")
        setup = check_setup_of(settings)
        plan = demo_settings(setup, settings.local, example_dir(), datetime.now(UTC))
        with server.connect() as conn:
            databases.create(conn, DB, "data check benchmark")
        env = plan.setup.commands.env(server, DB)
        for label, command in (
            ("migrate", plan.script("migrate.py", "--pending", "none")),
            ("generate", plan.script("generate.py", "--rows", str(args.rows), "--drift")),
        ):
            if not run_command(command, env, label=label, cwd=str(Path.cwd())).ok:
                print(f"building failed at {label}")
                return 1
        with server.connect(DB) as conn:
            conn.execute("VACUUM ANALYZE")
    with server.connect(DB) as conn:
        size = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]
        sequential_scans(conn)  # warm the cache: every figure is taken warm
        figures = [
            measure(conn, int(pair.split("/")[0]), int(pair.split("/")[1]), args.repeat)
            for pair in args.settings.split(",")
            if pair.strip()
        ]
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    lines = [
        "# Data check benchmark: column fingerprints on a ~1 GB clone",
        "",
        f"Command: `python benchmarks/data_check.py --rows {args.rows} --repeat {args.repeat} "
        f"--settings {args.settings}`",
        "",
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores (shared), "
        f"PostgreSQL {server.major_version()} (embedded); run {datetime.now(UTC).date()}; "
        f"load average at the end (1 / 5 / 15 min): {load}.",
        "",
        f"Clone: the orcha example, {args.rows} documents, {size / 1024**2:.0f} MiB on disk. "
        "Each figure is the median of the runs, with a warm cache. *scan* is one sequential "
        "scan of every table (`count(*)`, index scans off); *check* is what the baseline and "
        "data stages do: every column fingerprinted and every table's rows counted, twice, "
        "and compared, with index-only scans off as on a fresh restore (no page is "
        "all-visible there). Target: check within 3x scan at the default settings "
        f"(check.sample_above_mb = {DEFAULT_SAMPLE_MB}, "
        f"check.exact_count_max_mb = {DEFAULT_EXACT_MB}).",
    ]
    met = True
    for (mb, exact_mb), scan, check, prints in figures:
        ratio = check / scan if scan else 0.0
        default = mb == DEFAULT_SAMPLE_MB and exact_mb == DEFAULT_EXACT_MB
        met = met and (ratio <= 3 or not default)
        lines += [
            "",
            f"## check.sample_above_mb = {mb}, check.exact_count_max_mb = {exact_mb}"
            f"{' (the defaults)' if default else ''}: scan {scan:.2f}s, check {check:.2f}s, "
            f"ratio {ratio:.1f}x ({'within' if ratio <= 3 else 'over'} the 3x target)",
            "",
            "| table | size | rows fingerprinted | columns | how | row count |",
            "| --- | ---: | ---: | ---: | --- | --- |",
        ]
        for table in sorted(prints.values(), key=lambda t: -t.size_bytes):
            how = f"sample: {table.sample_note}" if table.sampled else "every row"
            counted = (
                "estimated from the sample"
                if table.sampled and table.size_bytes > exact_mb * 1024 * 1024
                else "exact"
            )
            lines.append(
                f"| {table.qualified} | {table.size_bytes / 1024**2:.0f} MiB | {table.rows} "
                f"| {len(table.columns)} | {how} | {counted} |"
            )
    lines += ["", NOTES]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))
    return 0 if met else 2


def measure(
    conn: psycopg.Connection, mb: int, exact_mb: int, repeat: int
) -> tuple[tuple[int, int], float, float, columns.Prints]:
    scans: list[float] = []
    checks: list[float] = []
    prints: columns.Prints = {}
    for number in range(1, repeat + 1):
        scans.append(sequential_scans(conn))
        seconds, prints = baseline_and_data(conn, mb * 1024 * 1024, exact_mb * 1024 * 1024)
        checks.append(seconds)
        print(f"{mb}/{exact_mb} MB, run {number}: scan {scans[-1]:.2f}s, check {checks[-1]:.2f}s")
    return (mb, exact_mb), statistics.median(scans), statistics.median(checks), prints


if __name__ == "__main__":
    sys.exit(main())
