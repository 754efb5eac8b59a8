"""A command left running in a second terminal: a real `inv` that the test always stops.

Tests of waiting, locks, signals and concurrency need the command to be a real
process beside the test, not the in-process run: `second_terminal` starts it,
`Terminal.wait_for` reads its output up to a line, and whatever the test does,
the process is stopped (Ctrl-C, then killed) and reaped when the block ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

# How long a command left running gets to clean up after Ctrl-C before it is killed.
STOP_GRACE_SECONDS = 30


def start_inv(
    root: Path, *args: str, env: dict[str, str] | None = None, merge_stderr: bool = False
) -> subprocess.Popen[str]:
    """`inv ARGS` in `root` as a real process with piped output (stdin: nothing)."""
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        cwd=root,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        text=True,
    )


def wait_for_line(stream: IO[str], needle: str, timeout: float = 60) -> list[str]:
    """Read lines until one contains `needle`; the lines read."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} never appeared; saw:\n{''.join(seen)}")


class Terminal:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def wait_for(self, needle: str, stream: str = "stderr", timeout: float = 60) -> list[str]:
        """Read `stream` line by line until one contains `needle`; the lines read."""
        source = self.process.stderr if stream == "stderr" else self.process.stdout
        assert source is not None, f"{stream} is not piped"
        return wait_for_line(source, needle, timeout)

    def interrupt(self) -> None:
        """Ctrl-C, as the terminal sends it to the command."""
        self.process.send_signal(signal.SIGINT)

    def finish(self, timeout: float = 60) -> tuple[str, str]:
        """Wait for the command to end on its own: its (stdout, stderr)."""
        out, err = self.process.communicate(timeout=timeout)
        return out or "", err or ""

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def stop(self) -> None:
        """Ctrl-C if still running, then kill after the grace period; always reaped."""
        if self.process.poll() is None:
            self.interrupt()
            with suppress(subprocess.TimeoutExpired):
                self.process.communicate(timeout=STOP_GRACE_SECONDS)
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


@contextmanager
def second_terminal(
    root: Path, *args: str, env: dict[str, str] | None = None, merge_stderr: bool = False
) -> Iterator[Terminal]:
    """`inv ARGS` left running in `root` for the block; stopped and reaped when it ends."""
    terminal = Terminal(start_inv(root, *args, env=env, merge_stderr=merge_stderr))
    try:
        yield terminal
    finally:
        terminal.stop()
