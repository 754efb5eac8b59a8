"""db.schema-diff against the text diff of `pg_dump -s`, on 20 copies of a real schema.

The Danbooru schema (../shared/conformance/real-schemas/danbooru/structure.sql)
is loaded 20 times, into 20 schemas, in each of two databases (about 25,000
objects each). Then, in one run, each of these is timed `--repeat` times:

- ours: `inv db.schema-diff -a A -b B`, the whole command as a user runs it
  (interpreter start, catalog read of both sides, pg_dump -s cross-check);
- baseline: `pg_dump -s A > a.sql; pg_dump -s B > b.sql; diff a.sql b.sql`.

Target: ours at most 1.5x the baseline, and under 3 s.

Run: `python benchmarks/schema_diff.py [--copies 20] [--repeat 5] [--out FILE]`
(the databases are built once on an embedded server under `.prodclone-bench/`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from psycopg import sql

from prodclone.local.server import LocalServer, resolve_server
from prodclone.pg.tools import find_tool
from prodclone.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO.parent / "shared" / "conformance" / "real-schemas" / "danbooru" / "structure.sql"
EXTENSIONS = ("btree_gin", "fuzzystrmatch", "pg_trgm", "pgstattuple")
# Operator classes of pg_trgm: they stay in public, where the extension lives.
KEPT_IN_PUBLIC = re.compile(r"public\.(gin_trgm_ops|gist_trgm_ops)")


def copy_sql(schema_sql: str, schema: str) -> str:
    """One copy of the schema in `schema`, as the danbooru README describes."""
    kept: list[str] = []
    for line in schema_sql.splitlines():
        if line.startswith(("CREATE EXTENSION", "COMMENT ON EXTENSION", "SET search_path")):
            continue
        if line.startswith("SELECT pg_catalog.set_config('search_path'"):
            continue
        kept.append(line)
    body = "\n".join(kept)
    body = KEPT_IN_PUBLIC.sub(r"@@\1", body).replace("public.", f"{schema}.")
    body = body.replace("@@", "public.")
    return f"CREATE SCHEMA {schema};\nSET search_path = {schema}, public;\n{body}\n"


def build(server: LocalServer, dbname: str, copies: int, psql: str) -> None:
    with server.connect() as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
            return
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(f"{dbname}_loading")))
    schema_sql = SCHEMA.read_text()
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write("".join(f"CREATE EXTENSION {name};\n" for name in EXTENSIONS))
        for copy in range(1, copies + 1):
            script.write(copy_sql(schema_sql, f"copy{copy:02d}"))
        script.flush()
        env = {**os.environ, **server.libpq_env(f"{dbname}_loading")}
        subprocess.run(
            [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", script.name],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    with server.connect() as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(f"{dbname}_loading"), sql.Identifier(dbname)
            )
        )


def timed(run: list[list[str]], env: dict[str, str], cwd: Path) -> tuple[float, list[int]]:
    start = time.perf_counter()
    codes = [
        subprocess.run(args, env=env, cwd=cwd, check=False, stdout=subprocess.DEVNULL).returncode
        for args in run
    ]
    return time.perf_counter() - start, codes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data-dir", default=str(REPO / ".prodclone-bench"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "schema_diff.md"))
    args = parser.parse_args()
    if not SCHEMA.exists():
        print(f"the shared Danbooru schema is absent ({SCHEMA})", file=sys.stderr)
        return 2

    settings = load_settings({"prodclone": {"local": {"data_dir": args.data_dir}}}, REPO)
    server = resolve_server(settings.local)
    major = server.major_version()
    psql = find_tool("psql", major, server.extra_bin_dirs)
    pg_dump = find_tool("pg_dump", major, server.extra_bin_dirs)
    names = (f"sdbench_a_{args.copies}", f"sdbench_b_{args.copies}")
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(build, server, n, args.copies, str(psql)) for n in names]:
            future.result()
    with server.connect(names[0]) as conn:
        objects = conn.execute(
            "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace"
            "        WHERE nspname LIKE 'copy%%')"
            " + (SELECT count(*) FROM pg_constraint k JOIN pg_namespace n ON n.oid = connamespace"
            "    WHERE nspname LIKE 'copy%%')"
            " + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = pronamespace"
            "    WHERE nspname LIKE 'copy%%')"
        ).fetchone()
    object_count = int(objects[0]) if objects else 0

    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch)
        (project / "tasks.py").write_text("from prodclone.tasks import ns\n")
        block = {"prodclone": {"local": {"data_dir": str(Path(args.data_dir).resolve())}}}
        (project / "invoke.yaml").write_text(json.dumps(block))
        env = {**os.environ, **server.libpq_env(names[0])}
        ours = [[sys.executable, "-m", "invoke", "db.schema-diff", "-a", names[0], "-b", names[1]]]
        baseline = [
            ["sh", "-c", f'"{pg_dump}" -s -d "$0" > a.sql', names[0]],
            ["sh", "-c", f'"{pg_dump}" -s -d "$0" > b.sql', names[1]],
            ["sh", "-c", "diff a.sql b.sql > /dev/null"],
        ]
        load_before = os.getloadavg()[0]
        timings: dict[str, list[float]] = {"ours": [], "baseline": []}
        exit_codes: dict[str, list[int]] = {}
        for _ in range(args.repeat):
            for label, run in (("baseline", baseline), ("ours", ours)):
                seconds, codes = timed(run, env, project)
                timings[label].append(seconds)
                exit_codes[label] = codes

    ours_s = statistics.median(timings["ours"])
    base_s = statistics.median(timings["baseline"])
    ratio = ours_s / base_s
    verdict = "met" if ratio <= 1.5 and ours_s < 3 else "NOT met"
    load_after = os.getloadavg()[0]
    runs = {label: ", ".join(f"{t:.2f}" for t in timings[label]) for label in timings}
    today = time.strftime("%Y-%m-%d")
    codes_base = exit_codes["baseline"]
    report = f"""# db.schema-diff benchmark

Command: `python benchmarks/schema_diff.py --copies {args.copies} --repeat {args.repeat}`

Machine: {platform.system()} {platform.machine()}, 2 cores, 24 GiB RAM; PostgreSQL {major}
(embedded server, Unix socket); pg_dump {pg_dump.major}.{pg_dump.minor}; run {today}.
1-minute load average {load_before:.2f} before and {load_after:.2f} after the timed runs
(other work shared the machine); the two commands alternate, so both see the same load.

Data: the Danbooru schema loaded {args.copies} times (schemas copy01..copy{args.copies:02d})
into each of two databases, loaded separately; {object_count} relations, constraints and
functions in the copies of each database.

| run | median of {args.repeat} (s) | all runs (s) | exit codes |
| --- | ---: | --- | --- |
| ours: `inv db.schema-diff -a A -b B` | {ours_s:.2f} | {runs["ours"]} | {exit_codes["ours"]} |
| baseline: `pg_dump -s` A, B; `diff` | {base_s:.2f} | {runs["baseline"]} | {codes_base} |

Ours / baseline: **{ratio:.2f}x** (target: at most 1.5x, and under 3 s): **{verdict}**.
"""
    Path(args.out).write_text(report)
    print(report)
    return 0 if verdict == "met" else 1


if __name__ == "__main__":
    sys.exit(main())
