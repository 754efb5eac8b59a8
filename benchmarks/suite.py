"""The test suite's wall time: the README's test command, run as CI runs it.

Target (issue "one way in"): under half of the suite's wall time before that work,
10 min 57 s on a quiet 2-core machine, so under 5 min 28 s. The time depends on the
machine's other work far more than a single command does: the load average before and
after each run is written beside it, and a figure only counts from a quiet machine.

Run: `python benchmarks/suite.py [--repeat 2] [--out benchmarks/results/suite.md]`
(from the repository, in its virtual environment, with `../shared/` beside it).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMAND = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
BEFORE_SECONDS = 10 * 60 + 57
TARGET_SECONDS = BEFORE_SECONDS / 2


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"


def one_run() -> tuple[float, float, str, str]:
    """(wall seconds, CPU seconds of the run's processes, pytest's summary, loads)."""
    load_before = os.getloadavg()[0]
    used_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        COMMAND, env={**os.environ, "CI": "true"}, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    used_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (used_after.ru_utime - used_before.ru_utime) + (
        used_after.ru_stime - used_before.ru_stime
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    summary = re.sub(r"=+", "", lines[-1]).strip() if lines else f"exit {done.returncode}"
    if done.returncode != 0:
        print(done.stdout[-4000:], file=sys.stderr)
    return wall, cpu, summary, f"{load_before:.2f} / {os.getloadavg()[0]:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="wall time of the test suite")
    parser.add_argument("--repeat", type=int, default=2, help="runs, one after another")
    parser.add_argument("--out", default="benchmarks/results/suite.md", help="results file")
    args = parser.parse_args(argv)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    rows, walls = [], []
    for number in range(1, args.repeat + 1):
        wall, cpu, summary, loads = one_run()
        walls.append(wall)
        rows.append(f"| {number} | {minutes(wall)} | {cpu:.0f} s | {loads} | {summary} |")
        print(rows[-1], flush=True)
    median = statistics.median(walls)
    lines = [
        "# Test suite wall time",
        "",
        f"Command: `python benchmarks/suite.py --repeat {args.repeat}`, which runs "
        "`CI=true python -m pytest -q` (the README's test command, as `.ci/run` runs it; "
        "two xdist workers from `pyproject.toml`).",
        "",
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; commit {commit}, run "
        f"{time.strftime('%Y-%m-%d')}. CPU counts the processes pytest waited for "
        "(not the PostgreSQL servers, which run detached).",
        "",
        "| run | wall | CPU | load avg before / after | pytest |",
        "| ---: | ---: | ---: | --- | --- |",
        *rows,
        "",
        f"Median: {minutes(median)}, {median / BEFORE_SECONDS:.0%} of the "
        f"{minutes(BEFORE_SECONDS)} before (target: under {minutes(TARGET_SECONDS)}).",
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
