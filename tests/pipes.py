"""`inv ... | head`: a task whose standard output's reader has already gone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def inv_into_closed_pipe(
    root: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 240,
    with_stderr: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run `inv ARGS` with stdout a real pipe whose read end is closed before it writes.

    What `| head -1` does once head has its line, without the race of waiting
    for it: every write the task makes meets a closed pipe. `with_stderr`:
    `2>&1 | head -1`, standard error into the same pipe.
    """
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=root,
            env={**os.environ, "NO_COLOR": "1", **(env or {})},
            stdout=write_end,
            stderr=write_end if with_stderr else subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        os.close(write_end)


def assert_no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
