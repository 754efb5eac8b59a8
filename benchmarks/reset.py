"""How fast db.load-clone resets the clone, against a full restore and a raw file copy.

Builds (or reuses) a ~1 GiB database of realistic rows and indexes on the
embedded server, dumps it once, then measures in one run:

- a full `pg_restore -j2` of the dump into a new database (the slow path);
- db.load-clone's first load (restore into the template, then copy);
- a template reset (CREATE DATABASE ... STRATEGY FILE_COPY, then swap);
- a spare swap (a ready copy renamed into place);
- a raw `cp -r` of the template's files: the floor without reflinks.

Run: `python benchmarks/reset.py [--gb 1.0] [--repeat 3] [--out benchmarks/results/reset.md]`
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bigdata import build_big_database, database_size

from prodclone.local.copies import background_idle
from prodclone.local.embedded import bin_dir
from prodclone.local.loader import LoadResult, load_clone
from prodclone.local.server import LocalServer, resolve_server
from prodclone.pg import databases
from prodclone.settings import Settings, load_settings
from prodclone.tasks._values import masking_of, paths_of


def timed(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def median_of(
    repeat: int, step: Callable[[], object], before: Callable[[], object] | None = None
) -> float:
    """Median time of `step`; each run starts with nothing left for the disk to write
    (`sync`), so no step pays for the writeback of the one before."""
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        os.sync()
        times.append(timed(step))
    return statistics.median(times)


def database_dir(server: LocalServer, pgdata: Path, dbname: str) -> Path:
    with server.connect() as conn:
        row = conn.execute("SELECT oid FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
    assert row is not None
    return pgdata / "base" / str(row[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="db.load-clone reset benchmark")
    parser.add_argument("--gb", type=float, default=1.0, help="database size in GiB")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--data-dir", default=".prodclone-bench", help="embedded server folder")
    parser.add_argument("--out", default="benchmarks/results/reset.md", help="results file")
    args = parser.parse_args(argv)

    settings: Settings = load_settings(
        {
            "prodclone": {
                "app": "bench",
                "dump_dir": f"{args.data_dir}/dump",
                "local": {"data_dir": args.data_dir, "keep_spare": False},
            }
        },
        Path.cwd(),
    )
    server = resolve_server(settings.local)
    print("building the source database (reused when it exists)...", flush=True)
    build_big_database(server, "bench_big", int(args.gb * 1024**3))
    size = database_size(server, "bench_big")

    settings.dump_dir.mkdir(parents=True, exist_ok=True)
    dump = settings.dump_dir / "prod-bench.dump"
    if not dump.exists():
        print("dumping it...", flush=True)
        subprocess.run(
            [str(bin_dir() / "pg_dump"), "-Fc", "-f", str(dump), server.url("bench_big")],
            check=True,
        )

    env = {**os.environ, **server.libpq_env("bench_restore")}

    def recreate_target() -> None:
        with server.connect() as conn:
            databases.drop(conn, "bench_restore")
            databases.create(conn, "bench_restore", "bench restore target")

    def full_restore() -> None:
        subprocess.run(
            [str(bin_dir() / "pg_restore"), "-j2", "-d", "bench_restore", str(dump)],
            env=env,
            check=True,
        )

    print("full pg_restore -j2...", flush=True)
    restore_s = median_of(1, full_restore, recreate_target)
    with server.connect() as conn:
        databases.drop(conn, "bench_restore")

    print("first load (restore into template + copy)...", flush=True)
    paths, masking = paths_of(settings), masking_of(settings)

    def load(keep_spare: bool, force_restore: bool = False) -> LoadResult:
        return load_clone(
            server,
            paths,
            settings.local.clone_db,
            dump,
            masking,
            jobs=settings.local.restore_jobs,
            keep_spare=keep_spare,
            force_restore=force_restore,
            show_progress=False,
        )

    first = load(keep_spare=False, force_restore=True)

    def background_done() -> None:
        # A reset drops the old copy (and builds the spare) in the background,
        # minutes before the next reset in real use; here, wait for it untimed.
        with background_idle(settings.local.data_dir):
            pass

    print("template resets...", flush=True)
    template_s = median_of(
        args.repeat,
        lambda: load(keep_spare=False),
        background_done,
    )

    load(keep_spare=True)  # starts the first spare
    print("spare swaps...", flush=True)
    swap_s = median_of(
        args.repeat,
        lambda: load(keep_spare=True),
        background_done,
    )
    background_done()

    pgdata = settings.local.data_dir.resolve() / "pgdata"
    source_dir = database_dir(
        server, pgdata, f"bench_prod_clone__tpl_{first_digest(settings, dump)}"
    )
    scratch = Path(tempfile.mkdtemp(dir=settings.local.data_dir))

    def remove_copy() -> None:
        shutil.rmtree(scratch / "copy", ignore_errors=True)

    def raw_copy() -> None:
        subprocess.run(["cp", "-r", str(source_dir), str(scratch / "copy")], check=True)

    print("raw file copies...", flush=True)
    raw_s = median_of(args.repeat, raw_copy, remove_copy)
    shutil.rmtree(scratch, ignore_errors=True)

    lines = [
        "# db.load-clone reset benchmark",
        "",
        f"Command: `python benchmarks/reset.py --gb {args.gb} --repeat {args.repeat}`",
        "",
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"{_memory_gib():.0f} GiB RAM, PostgreSQL {server.major_version()} (embedded), "
        f"ext4 (no reflinks); run {time.strftime('%Y-%m-%d')}. Each timed step starts "
        "after `sync`, with the previous reset's background work (dropping the old "
        "copy, building the spare) finished.",
        "",
        f"Database: {size / 1024**2:.0f} MiB on disk (tables + indexes); "
        f"dump {dump.stat().st_size / 1024**2:.0f} MiB (custom format).",
        "",
        "| step | seconds | vs full pg_restore -j2 |",
        "| --- | ---: | ---: |",
        f"| full `pg_restore -j2` | {restore_s:.2f} | 1.00x |",
        f"| first db.load-clone (restore + copy) | {first.seconds:.2f} | "
        f"{first.seconds / restore_s:.2f}x |",
        f"| template reset (median of {args.repeat}) | {template_s:.2f} | "
        f"{template_s / restore_s:.3f}x |",
        f"| spare swap (median of {args.repeat}) | {swap_s:.3f} | {swap_s / restore_s:.4f}x |",
        f"| raw `cp -r` of the database files | {raw_s:.2f} | {raw_s / restore_s:.3f}x |",
        "",
        f"Template reset / raw copy: **{template_s / raw_s:.2f}x** (target: at most 1.5x).",
        f"Spare swap: **{swap_s:.3f} s** (target: under 1 s).",
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


def first_digest(settings: Settings, dump: Path) -> str:
    from prodclone.pg import dumps

    return dumps.checksum(dump, settings.local.data_dir / "checksums.json")[:12]


def _memory_gib() -> float:
    with open("/proc/meminfo") as handle:
        kib = int(handle.readline().split()[1])
    return kib / 1024**2


if __name__ == "__main__":
    sys.exit(main())
