"""Run the app's own shell commands (migrate, boot, smoke) through Invoke, output streamed."""

from __future__ import annotations

import os
import shlex
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, TextIO

from invoke.config import Config
from invoke.context import Context
from invoke.exceptions import CommandTimedOut

from prodclone.errors import ProdcloneError, SettingsError
from prodclone.proc.runner import (
    GroupRunner,
    RunnerNotGrouped,
    Tap,
    hides_stdout,
    output_stream,
    require_group_runner,
)

# Where an app command's lines go: a stream, nowhere (None), or the terminal, which is
# whatever sys.stdout is when the command runs (a test or a caller may have replaced it).
TERMINAL: Final = "terminal"
Echo = TextIO | None | Literal["terminal"]


def terminal_or(echo: Echo) -> TextIO | None:
    return sys.stdout if echo == TERMINAL else echo


@dataclass(frozen=True)
class CommandResult:
    command: str
    returncode: int
    seconds: float
    output: str
    timed_out: bool = False
    # What set the time limit a timed-out command hit, as the user would set it.
    limit_name: str = "check.command_timeout"

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
    """Writes a command's output to the terminal as `[label] ...` lines, folded when asked.

    Invoke's `out_stream`: it is given the output in pieces, and not at all under `--hide`.
    """

    def __init__(self, label: str, echo: Echo, fold: Fold | None) -> None:
        self.label = label
        self.echo = terminal_or(echo)
        self.fold = fold
        self.count = 0
        self.held: deque[str] = deque(maxlen=fold.tail if fold else None)
        self.partial = ""
        self.closed = False
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            if self.closed:
                return
            *whole, self.partial = (self.partial + text).split("\n")
            for line in whole:
                self._line(line + "\n")

    def _line(self, line: str) -> None:
        self.count += 1
        if self.fold is None or self.count <= self.fold.head:
            self._write(line)
        else:
            self.held.append(line)

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            if self.partial:
                self._line(self.partial + "\n")
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


def app_context() -> Context:
    """A Context for app commands when no task handed one down: prodclone's runner,
    Invoke's defaults otherwise."""
    return Context(Config(overrides={"runners": {"local": GroupRunner}}))


def require_grouped(context: Context) -> None:
    """Invoke's runner must start app commands in their own group; a settings error if not."""
    try:
        require_group_runner(context)
    except RunnerNotGrouped as exc:
        raise SettingsError(str(exc)) from None


def _limit(own: float | None, context: Context) -> tuple[float | None, str]:
    """The stricter of the command's own timeout and Invoke's (`--command-timeout`)."""
    configured = context.config.timeouts.command
    if configured and (own is None or configured < own):
        return float(configured), "--command-timeout"
    return own, "check.command_timeout"


@contextmanager
def _within(context: Context, cwd: str | Path | None) -> Iterator[None]:
    """Run in `cwd` the way Invoke does (`cd DIR && command`), the folder quoted whole."""
    if cwd is None:
        yield
        return
    with context.prefix(f"cd {shlex.quote(str(cwd))}"):
        yield


def run_command(
    context: Context | None,
    command: str,
    env: dict[str, str],
    *,
    label: str,
    timeout: float | None = None,
    echo: Echo = TERMINAL,
    cwd: str | Path | None = None,
    fold: Fold | None = None,
) -> CommandResult:
    """Run `command` through Invoke (`context.run`), echo each line as `[label] ...`.

    The command leads its own process group (prodclone.proc.runner.GroupRunner, the
    runner prodclone configures); at `timeout` or Invoke's `--command-timeout`, the
    stricter, its whole group is stopped. With `fold`, the terminal gets the first and
    last lines and the whole output is written to `fold.log` as it comes (so an
    interrupted run keeps it too), `--hide` or not.
    """
    if not command.strip():
        raise ProdcloneError(f"no {label} command is configured")
    context = context or app_context()
    require_grouped(context)
    limit, limit_name = _limit(timeout, context)
    shown = _Echo(label, echo, fold)
    log = open_private(fold.log) if fold else None

    def keep(text: str) -> None:
        if log is not None and not log.closed:
            log.write(text)
            log.flush()

    started = time.monotonic()
    timed_out = False
    try:
        with _within(context, cwd):
            result = context.run(
                command,
                env=env,
                replace_env=True,
                warn=True,
                timeout=limit,
                in_stream=False,
                **({} if hides_stdout(context) else {"out_stream": output_stream(shown.write)}),
                watchers=[Tap(keep)] if log is not None else [],
            )
    except CommandTimedOut as exc:
        result, timed_out = exc.result, True
    finally:
        shown.close()
        if log is not None:
            log.close()
    assert result is not None  # not started `asynchronous` nor `disown`
    return CommandResult(
        command=command,
        returncode=result.exited,
        seconds=time.monotonic() - started,
        output=result.stdout,
        timed_out=timed_out,
        limit_name=limit_name,
    )
