"""Run the app's own shell commands (migrate, boot, smoke) and stream their output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
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


@dataclass(frozen=True)
class Fold:
    """Echo only the first `head` and last `tail` lines of an output; all of it goes to `log`.

    A Django `migrate` prints a line per migration, hundreds per run: the terminal
    gets a summary, the report folder the whole output (0600, it may quote data).
    """

    log: Path
    head: int = 5
    tail: int = 5


def open_private(path: Path) -> TextIO:
    """`path` opened for writing as a 0600 file (made anew if it was there)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileNotFoundError):
        path.unlink()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return open(descriptor, "w", encoding="utf-8", errors="replace")


class _Echo:
    """Writes a command's lines to the terminal as `[label] ...`, folded when asked."""

    def __init__(self, label: str, echo: TextIO | None, fold: Fold | None) -> None:
        self.label = label
        self.echo = echo
        self.fold = fold
        self.count = 0
        self.held: deque[str] = deque(maxlen=fold.tail if fold else None)
        self.log = open_private(fold.log) if fold else None
        self.closed = False
        self._lock = threading.Lock()

    def line(self, line: str) -> None:
        with self._lock:
            if self.closed:  # a child that outlived the command still writing to the pipe
                return
            self.count += 1
            if self.log is not None:
                self.log.write(line)
                self.log.flush()
            if self.fold is None or self.count <= self.fold.head:
                self._write(line)
            else:
                self.held.append(line)

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            if self.log is not None:
                self.log.close()
        if self.fold is None:
            return
        hidden = self.count - self.fold.head - len(self.held)
        if hidden > 0:
            self._write(f"... ({hidden} lines not shown)\n")
        for line in self.held:
            self._write(line)
        if hidden > 0:
            self._write(f"{self.count} lines, whole output in {self.fold.log}\n")

    def _write(self, line: str) -> None:
        if self.echo is not None:
            self.echo.write(f"  [{self.label}] {line}")
            self.echo.flush()


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
    fold: Fold | None = None,
) -> CommandResult:
    """Run `command` in a shell, echo each line as `[label] ...`, keep the whole output.

    With `fold`, the terminal gets the first and last lines and the whole output is
    written to `fold.log` as it comes (so an interrupted run keeps it too).
    """
    if not command.strip():
        raise ProdcloneError(f"no {label} command is configured")
    writer = _Echo(label, echo, fold)
    started = time.monotonic()
    try:
        process = start_shell(command, env, cwd)
    except BaseException:
        writer.close()
        raise
    lines: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            writer.line(line)

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
        reader.join(timeout=5)
        writer.close()
        raise
    reader.join(timeout=5)
    writer.close()
    return CommandResult(
        command=command,
        returncode=process.returncode,
        seconds=time.monotonic() - started,
        output="".join(lines),
        timed_out=timed_out,
    )
