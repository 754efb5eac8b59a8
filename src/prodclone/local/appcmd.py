"""Run the app's own shell commands (migrate, boot, smoke) and stream their output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from prodclone.errors import ProdcloneError


@dataclass(frozen=True)
class CommandResult:
    command: str
    returncode: int
    seconds: float
    output: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, lines: int = 10) -> str:
        return "\n".join(self.output.rstrip().splitlines()[-lines:])


def start_shell(command: str, env: dict[str, str], cwd: str | Path | None) -> subprocess.Popen[str]:
    """Start `command` in a shell, in its own process group, output (stdout+stderr) piped."""
    return subprocess.Popen(
        command,
        shell=True,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )


def stop_group(process: subprocess.Popen[str], grace: float = 5.0) -> None:
    """SIGTERM the command's whole process group, then SIGKILL whatever is left of it."""
    try:
        with suppress(ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=grace)
    finally:
        # Children that ignored SIGTERM (or outlived their parent) are still in the group;
        # `finally`, so that a second Ctrl-C during the grace period still stops them.
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_command(
    command: str,
    env: dict[str, str],
    *,
    label: str,
    timeout: float | None = None,
    echo: TextIO | None = sys.stdout,
    cwd: str | None = None,
) -> CommandResult:
    """Run `command` in a shell, echo each line as `[label] ...`, keep the whole output."""
    if not command.strip():
        raise ProdcloneError(f"no {label} command is configured")
    started = time.monotonic()
    process = start_shell(command, env, cwd)
    lines: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if echo is not None:
                echo.write(f"  [{label}] {line}")
                echo.flush()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timed_out = False
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        stop_group(process)
    except BaseException:
        stop_group(process)
        raise
    reader.join(timeout=5)
    return CommandResult(
        command=command,
        returncode=process.returncode,
        seconds=time.monotonic() - started,
        output="".join(lines),
        timed_out=timed_out,
    )
