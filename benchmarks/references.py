"""db.check-references on a database with 2,000 PL/pgSQL functions.

The database has 50 tables and 2,000 PL/pgSQL functions in five shapes, 400 of each:
trigger functions (each attached to a table's trigger, NEW and OLD read), record loops
(FOR r IN SELECT ... with r.field reads), queries with joins and SELECT INTO, functions
with their own search_path, and functions mixing IF/CASE, RAISE and EXECUTE. Each
function is 10 to 20 lines. Then, in one run, each of these is timed `--repeat` times:

- the command: `inv db.check-references --db refbench_2000`, as a user runs it
  (interpreter start, catalog read, every body parsed and every statement prepared);
- in process: `check_references` alone, on an open connection.

Target: the command under 5 s.

Run: `python benchmarks/references.py [--functions 2000] [--repeat 5] [--out FILE]`
(the database is built once on an embedded server under `.prodclone-bench/`).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from psycopg import sql

from prodclone.local.server import LocalServer, resolve_server
from prodclone.references import check_references
from prodclone.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
TABLES = 50

SHAPES = (
    # A trigger function, attached to its table below.
    """CREATE FUNCTION fn_{n}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO audit_log (table_name, row_id, payload)
        VALUES (TG_TABLE_NAME, NEW.id,
                jsonb_build_object('status', NEW.status, 'owner_id', NEW.owner_id));
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
CREATE TRIGGER trg_{n} BEFORE UPDATE ON t{t} FOR EACH ROW EXECUTE FUNCTION fn_{n}();
""",
    """CREATE FUNCTION fn_{n}(wanted int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    r record;
    total bigint := 0;
BEGIN
    FOR r IN SELECT a.id, a.amount, o.name FROM t{t} a JOIN owners o ON o.id = a.owner_id
             WHERE a.owner_id = wanted ORDER BY a.id LOOP
        total := total + coalesce(r.amount, 0);
        IF r.name IS NULL THEN
            RAISE NOTICE 'row % has no owner name', r.id;
        END IF;
    END LOOP;
    RETURN total;
END;
$$;
""",
    """CREATE FUNCTION fn_{n}(wanted int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    found_status text;
    owner_name text;
BEGIN
    SELECT a.status, o.name INTO found_status, owner_name
    FROM t{t} a JOIN owners o ON o.id = a.owner_id
    WHERE a.id = wanted;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE t{t} SET updated_at = now() WHERE id = wanted;
    RETURN found_status || ' for ' || owner_name;
END;
$$;
""",
    """CREATE FUNCTION fn_{n}() RETURNS bigint LANGUAGE plpgsql
SET search_path = app, public AS $$
DECLARE
    n bigint;
BEGIN
    SELECT count(*) INTO n FROM settings_kv WHERE key LIKE 'fn_{n}%';
    PERFORM pg_notify('bench', n::text);
    RETURN n + (SELECT count(*) FROM public.t{t} WHERE status = 'open');
END;
$$;
""",
    """CREATE FUNCTION fn_{n}(wanted int, mode text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    result int := 0;
BEGIN
    CASE mode
        WHEN 'count' THEN SELECT count(*) INTO result FROM t{t} WHERE owner_id = wanted;
        WHEN 'max' THEN SELECT max(amount)::int INTO result FROM t{t} WHERE owner_id = wanted;
        ELSE
            EXECUTE format('SELECT count(*) FROM %I WHERE owner_id = $1', 't{t}')
            INTO result USING wanted;
    END CASE;
    RETURN result;
END;
$$;
""",
)


def schema_sql(functions: int) -> str:
    parts = [
        "CREATE TABLE owners (id int PRIMARY KEY, name text);",
        "CREATE TABLE audit_log (id bigserial, table_name text, row_id int, payload jsonb);",
        "CREATE SCHEMA app; CREATE TABLE app.settings_kv (key text PRIMARY KEY, value text);",
    ]
    for t in range(TABLES):
        parts.append(
            f"CREATE TABLE t{t} (id int PRIMARY KEY, owner_id int REFERENCES owners (id), "
            "status text, amount numeric, updated_at timestamptz);"
        )
    for n in range(functions):
        parts.append(SHAPES[n % len(SHAPES)].format(n=n, t=n % TABLES))
    return "\n".join(parts)


def build(server: LocalServer, dbname: str, functions: int) -> None:
    with server.connect() as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
            return
        loading = sql.Identifier(f"{dbname}_loading")
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(loading))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(loading))
    with server.connect(f"{dbname}_loading") as conn:
        conn.execute(schema_sql(functions).encode())
    with server.connect() as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(loading, sql.Identifier(dbname))
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data-dir", default=str(REPO / ".prodclone-bench"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "references.md"))
    args = parser.parse_args()

    settings = load_settings({"prodclone": {"local": {"data_dir": args.data_dir}}}, REPO)
    server = resolve_server(settings.local)
    dbname = f"refbench_{args.functions}"
    build(server, dbname, args.functions)

    load_before = os.getloadavg()[0]
    command_runs, process_runs, codes = [], [], set()
    summary = ""
    with tempfile.TemporaryDirectory() as project:
        root = Path(project)
        (root / "tasks.py").write_text("from prodclone.tasks import ns\n")
        (root / "invoke.yaml").write_text(
            f'{{"prodclone": {{"local": {{"data_dir": "{args.data_dir}"}}}}}}\n'
        )
        for _ in range(args.repeat):
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "invoke", "db.check-references", "--db", dbname],
                cwd=root,
                capture_output=True,
                text=True,
                check=False,
            )
            command_runs.append(time.perf_counter() - start)
            codes.add(done.returncode)
            summary = done.stdout.splitlines()[0] if done.stdout else done.stderr.strip()
            with server.connect(dbname) as conn:
                start = time.perf_counter()
                check_references(conn, dbname)
                process_runs.append(time.perf_counter() - start)
    load_after = os.getloadavg()[0]

    command = statistics.median(command_runs)
    lines = [
        "# db.check-references benchmark",
        "",
        f"Command: `python benchmarks/references.py --functions {args.functions} "
        f"--repeat {args.repeat}`",
        "",
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores; "
        f"PostgreSQL {server.major_version()} (embedded server, Unix socket); "
        f"Python {platform.python_version()}; run {datetime.now(UTC).date().isoformat()}.",
        f"1-minute load average {load_before:.2f} before and {load_after:.2f} after the "
        "timed runs (other work shared the machine).",
        "",
        f"Data: {args.functions} PL/pgSQL functions in five shapes (trigger functions on "
        f"{TABLES} tables, record loops, joins with SELECT INTO, own search_path, "
        "CASE with EXECUTE), 10 to 20 lines each.",
        f"Result: {summary}",
        "",
        f"| run | median of {args.repeat} (s) | all runs (s) |",
        "| --- | ---: | --- |",
        f"| `inv db.check-references --db {dbname}` | {command:.2f} | "
        + ", ".join(f"{value:.2f}" for value in command_runs)
        + " |",
        f"| `check_references` in process | {statistics.median(process_runs):.2f} | "
        + ", ".join(f"{value:.2f}" for value in process_runs)
        + " |",
        "",
        f"Exit codes: {sorted(codes)}. Target: the command under 5 s: "
        f"**{'met' if command < 5 else 'NOT met'}**.",
    ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if command < 5 else 1


if __name__ == "__main__":
    sys.exit(main())
