"""How fast `inv --list` and `inv -h db.load-clone` answer (target: under 0.5 s).

Heavy imports (boto3, psycopg, rich) happen only inside the tasks that need them,
so listing tasks and reading help stays quick.

Run: `python benchmarks/startup.py [--repeat 10] [--out benchmarks/results/startup.md]`
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = (["--list"], ["-h", "db.load-clone"], ["-h", "db.clone-prod"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="start-up time of inv")
    parser.add_argument("--repeat", type=int, default=10, help="runs per command")
    parser.add_argument("--out", default="benchmarks/results/startup.md", help="results file")
    args = parser.parse_args(argv)
    rows = []
    for command in COMMANDS:
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "invoke", *command], capture_output=True, check=True
            )
            times.append(time.perf_counter() - started)
        rows.append(
            f"| `inv {' '.join(command)}` | {statistics.median(times):.3f} | {max(times):.3f} |"
        )
    lines = [
        "# Start-up time",
        "",
        f"Command: `python benchmarks/startup.py --repeat {args.repeat}`",
        "",
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; run {time.strftime('%Y-%m-%d')}.",
        "",
        "| command | median s | worst s |",
        "| --- | ---: | ---: |",
        *rows,
        "",
        "Target: under 0.5 s.",
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
