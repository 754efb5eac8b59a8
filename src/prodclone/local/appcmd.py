"""Run the app's own shell commands (migrate, boot, smoke) and stream their output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
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


def _stop_group(process: subprocess.Popen[str]) -> None:
    """End the command and everything it started (it runs in its own process group)."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


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
    process = subprocess.Popen(
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
        _stop_group(process)
    except BaseException:
        _stop_group(process)
        raise
    reader.join(timeout=5)
    return CommandResult(
        command=command,
        returncode=process.returncode,
        seconds=time.monotonic() - started,
        output="".join(lines),
        timed_out=timed_out,
    )
