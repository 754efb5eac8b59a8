"""refactor-check on the orcha example with a ~1 GB clone: the tool's own time, per stage.

    python benchmarks/refactor_check.py [--rows 1450000] [--repeat 3]

Builds a drifted orcha "production" (reused when its dump exists), runs refactor-check
once untimed (the first load restores the dump), then `--repeat` timed runs with the
corrected migration. "Tool time" is each stage's wall time minus the time spent in the
app's own commands (migrate, boot, serve start-up, smoke), which prodclone does not
control. Between runs it waits until the previous reset's background work (dropping the
old copy, building the spare) is done, as it would be minutes later in real use.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

# The demo's production stand-in belongs to the repository, not the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demo.run import DemoPlan, build_prod_dump, demo_settings, example_dir
from prodclone.check.model import STAGES, CheckOptions, CheckRun
from prodclone.check.runner import run_refactor_check
from prodclone.check.setup import CheckSetup
from prodclone.local.copies import background_idle
from prodclone.local.server import resolve_server
from prodclone.pg import dumps
from prodclone.pg.names import DatabaseNames
from prodclone.settings import load_settings
from prodclone.tasks._values import check_setup_of

NOTES = """\
Where prodclone's own time goes: the row counts (exact `count(*)` of every table, once
before and once after the migration; a table above `check.exact_count_max_mb` would be
estimated instead), the reset (a rename when a spare is ready, else a file copy of the
template), and the schema gate (two catalog reads and two `pg_dump -s` in parallel).
The app's commands (Python start-up of the example's scripts, mostly) are the rest.
"""


def _memory_gib() -> float:
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


def bench_plan(data_dir: Path) -> DemoPlan:
    """The demo's settings, with a real project's clone names and its default spare."""
    settings = load_settings(
        {
            "prodclone": {
                "dump_dir": str(data_dir / "dump"),
                "local": {"data_dir": str(data_dir)},
                "check": {"report_dir": str(data_dir / "reports")},
            }
        },
        Path.cwd(),
    )
    setup = check_setup_of(settings)
    plan = demo_settings(setup, settings.local, example_dir(), datetime.now(UTC))
    corrected = dataclasses.replace(
        plan.with_migration("corrected"),
        names=DatabaseNames(clone="orcha_bench_prod_clone", fresh="orcha_bench_fresh"),
        keep_spare=True,
    )
    return dataclasses.replace(plan, setup=corrected)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_450_000, help="documents (~0.7 KB each)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (median)")
    parser.add_argument("--data-dir", default=".prodclone-bench/check", help="server folder")
    parser.add_argument("--out", default="benchmarks/results/refactor_check.md")
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir).resolve()
    plan = bench_plan(data_dir)
    setup = plan.setup
    server = resolve_server(plan.local)
    quiet = Console(file=open(os.devnull, "w"))  # noqa: SIM115 (lives as long as the script)
    console = Console()

    existing = sorted(setup.paths.dumps.glob(dumps.DUMP_GLOB))
    if existing:
        dump = existing[-1]
        console.print(f"reusing {dump}")
    else:
        console.print(f"building production with {args.rows} documents and dumping it...")
        dump = build_prod_dump(plan, server, args.rows, console)

    def one_run(variant: CheckSetup, label: str) -> CheckRun:
        with background_idle(setup.paths.state):
            pass
        run = run_refactor_check(
            variant,
            server,
            CheckOptions(dump=dump, report_dir=data_dir / "reports" / label, echo=None),
            quiet,
        )
        if not run.passed:
            console.print(f"{label} did not pass: {run.verdict} ({run.report_dir})")
            sys.exit(1)
        console.print(
            f"{label}: {run.seconds:.2f}s, tool {run.tool_seconds:.2f}s "
            f"(reset by {run.stage('reset').figures.get('method')})"
        )
        return run

    console.print("first run (untimed: the first load restores the dump)...")
    first = one_run(setup, "first")
    results: list[tuple[str, list[CheckRun]]] = []
    for keep_spare, name in ((True, "spare swap (the default)"), (False, "template copy")):
        variant = dataclasses.replace(setup, keep_spare=keep_spare)
        one_run(variant, f"warm-up {name}")  # uses up a spare left by the previous variant
        runs = [one_run(variant, f"{name} {number}") for number in range(1, args.repeat + 1)]
        results.append((name, runs))

    with server.connect() as conn:
        row = conn.execute("SELECT pg_database_size(%s)", (setup.names.clone,)).fetchone()
    clone_bytes = int(row[0]) if row else 0
    baseline = first.stage("baseline").figures
    lines = [
        "# refactor-check benchmark: the tool's own time on a ~1 GB clone",
        "",
        f"Command: `python benchmarks/refactor_check.py --rows {args.rows} --repeat {args.repeat}`",
        "",
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"{_memory_gib():.0f} GiB RAM, PostgreSQL 18 (embedded), ext4 (no reflinks); "
        f"run {datetime.now(UTC).date()}.",
        "",
        f"Clone: the orcha example, {args.rows} documents, {clone_bytes / 1024**2:.0f} MiB on "
        f"disk ({baseline.get('tables')} tables, {baseline.get('rows')} rows, "
        f"{baseline.get('estimated_tables')} counted by estimate); dump "
        f"{dump.stat().st_size / 1024**2:.0f} MiB. Migration: the corrected `legal_entity` -> "
        f"`tenant` rename. The first run restores the dump into the template (untimed "
        f"here): {first.seconds:.1f}s in all.",
        "",
        "*command* is the time spent in the app's own commands (migrate, boot, the app's "
        "start-up, smoke, and the migrate command of the fresh build); *tool* is the rest, "
        "prodclone's own work. Each table shows the run with the median tool time.",
    ]
    for name, runs in results:
        median_run = sorted(runs, key=lambda run: run.tool_seconds)[len(runs) // 2]
        lines += [
            "",
            f"## Reset by {name}: tool time {median_run.tool_seconds:.2f} s "
            f"(runs: {', '.join(f'{run.tool_seconds:.2f}' for run in runs)})",
            "",
            "| stage | total | command | tool |",
            "| --- | ---: | ---: | ---: |",
        ]
        for key, _title in STAGES:
            stage = median_run.stage(key)
            lines.append(
                f"| {key} | {stage.seconds:.2f} | {stage.command_seconds:.2f} "
                f"| {stage.tool_seconds:.2f} |"
            )
        lines.append(
            f"| **all** | **{median_run.seconds:.2f}** | "
            f"**{median_run.seconds - median_run.tool_seconds:.2f}** | "
            f"**{median_run.tool_seconds:.2f}** |"
        )
    worst = max(run.tool_seconds for _name, runs in results for run in runs)
    lines += [
        "",
        f"Slowest tool time of any run: **{worst:.2f} s** (target: under 15 s).",
        "",
        NOTES,
    ]
    Path(args.out).write_text("\n".join(lines))
    console.print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
