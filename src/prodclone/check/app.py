"""The app under test, run in the background for the smoke stage (the spec's `bb dev`).

It runs in its own process group, its output goes to a log file in the report
folder, it counts as ready when a configured line appears or a TCP port answers,
and the whole group is always stopped afterwards, whatever happened.
"""

from __future__ import annotations

import json
import re
import shlex
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO, cast

from invoke.context import Context
from invoke.runners import Promise

from prodclone.check.setup import CheckConfig
from prodclone.errors import ProdcloneError, SettingsError
from prodclone.faults import checkpoint
from prodclone.local.appcmd import (
    TERMINAL,
    Echo,
    app_context,
    open_private,
    require_grouped,
    terminal_or,
)
from prodclone.proc import start_time, stop_adopted
from prodclone.proc.runner import GroupRunner, Tap, hides_stdout


class AppNotReady(ProdcloneError):
    """The app exited or missed its deadline before it was ready (it has been stopped)."""

    def __init__(self, message: str, pid: int) -> None:
        super().__init__(message)
        self.pid = pid


def require_readiness_signal(check: CheckConfig) -> None:
    """Without a ready line or port there is no telling when the app is up."""
    if not (check.serve_ready_line or check.serve_ready_port):
        raise SettingsError(
            "prodclone.commands.serve is set but neither prodclone.check.serve_ready_line nor "
            "prodclone.check.serve_ready_port is: set one (in invoke.yaml, or with "
            "INVOKE_PRODCLONE_CHECK_SERVE_READY_LINE) so refactor-check knows when the app is up"
        )


def require_port_free(port: int) -> None:
    """A port that answers before the app starts would make any app look ready at once."""
    if port and _port_answers(port):
        raise SettingsError(
            f"prodclone.check.serve_ready_port {port} already answers before the app is "
            "started: stop what listens there (an app left running?) so refactor-check can "
            "tell when its own app is up"
        )


class RunningApp:
    """The app, started by Invoke (`asynchronous`) in its own process group."""

    def __init__(self, promise: Promise, lines: _Lines) -> None:
        self.promise = promise
        self.runner = cast(GroupRunner, promise.runner)
        self.ready_seconds = 0.0
        self._lines = lines

    @property
    def pid(self) -> int:
        return int(self.runner.process.pid)

    def output(self) -> str:
        return "".join(self._lines.lines)

    def exit_code(self) -> int | None:
        """The app's exit code if it has ended, else None."""
        if not self.runner.process_is_finished:
            return None
        return self.runner.returncode()

    def wait_ready(self, ready_line: str, port: int, timeout: float) -> None:
        started = time.monotonic()
        deadline = started + timeout
        while True:
            if self._lines.ready.is_set() or (port and _port_answers(port)):
                self.ready_seconds = time.monotonic() - started
                return
            code = self.exit_code()
            if code is not None:
                raise AppNotReady(f"the app exited with code {code} before it was ready", self.pid)
            if time.monotonic() >= deadline:
                what = f"the line /{ready_line}/" if ready_line else f"port {port} to answer"
                raise AppNotReady(
                    f"the app was not ready after {timeout:g}s (waited for {what})", self.pid
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the app's whole group and collect what it wrote."""
        try:
            self.runner.stop_group()
        finally:
            self.promise.join()


class _Lines:
    """The app's output, line by line: to its log, to the terminal, against the ready line."""

    def __init__(self, log: TextIO, echo: TextIO | None, ready_line: str) -> None:
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._log = log
        self._echo = echo
        self._ready_line = re.compile(ready_line) if ready_line else None
        self._partial = ""

    def feed(self, text: str) -> None:
        *whole, self._partial = (self._partial + text).split("\n")
        for line in whole:
            self._line(line + "\n")

    def close(self) -> None:
        if self._partial:
            self._line(self._partial + "\n")
            self._partial = ""

    def _line(self, line: str) -> None:
        self.lines.append(line)
        self._log.write(line)
        self._log.flush()
        if self._echo is not None:
            self._echo.write(f"  [serve] {line}")
            self._echo.flush()
        if self._ready_line is not None and self._ready_line.search(line):
            self.ready.set()


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def running_app(
    context: Context | None,
    command: str,
    env: dict[str, str],
    *,
    cwd: Path,
    log_path: Path,
    ready_line: str,
    ready_port: int,
    timeout: float,
    echo: Echo = TERMINAL,
    record: Path | None = None,
) -> Iterator[RunningApp]:
    """Start `command`, wait until it is ready, yield it, and always stop its process group.

    With `record`, the group is written there while it runs: a run killed outright
    (SIGKILL) cannot stop it, and the next run stops it from that file.
    """
    if not ready_line and not ready_port:
        raise ValueError("running_app needs a ready line or a ready port")
    require_port_free(ready_port)
    context = context or app_context()
    require_grouped(context)
    # Private: the app's log can quote production rows.
    with open_private(log_path) as log:
        lines = _Lines(log, None if hides_stdout(context) else terminal_or(echo), ready_line)
        # Invoke hides an asynchronous command's output: the tap shows and keeps it.
        # No time limit (not even --command-timeout): the app runs until it is stopped.
        with context.prefix(f"cd {shlex.quote(str(cwd))}"):
            promise = context.run(
                command,
                env=env,
                replace_env=True,
                warn=True,
                asynchronous=True,
                timeout=None,
                watchers=[Tap(lines.feed)],
            )
        if not isinstance(promise, Promise):
            raise ProdcloneError("the app (commands.serve) was not started: Invoke ran nothing")
        app = RunningApp(promise, lines)
        try:
            if record is not None:
                _write_record(record, app.pid)
        except BaseException:
            app.stop()
            raise
        try:
            app.wait_ready(ready_line, ready_port, timeout)
            checkpoint("check-app-ready")
            yield app
        finally:
            app.stop()
            lines.close()
            if record is not None:
                record.unlink(missing_ok=True)


def app_record(state_dir: Path) -> Path:
    """Where the running app's process group is written (the local state folder)."""
    return state_dir / "app.json"


def _write_record(record: Path, pid: int) -> None:
    record.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open_private(record) as handle:
        json.dump({"pgid": pid, "start": start_time(pid)}, handle)


def stop_leftover_app(record: Path, grace: float = 2.5) -> str:
    """Stop the app a killed run left running (its group, from `record`); says what it did."""
    try:
        saved = json.loads(record.read_text())
        pgid, start = int(saved["pgid"]), str(saved["start"])
    except (OSError, ValueError, KeyError, TypeError):
        record.unlink(missing_ok=True)
        return ""
    record.unlink(missing_ok=True)
    now = start_time(pgid)
    if now and now != start:
        return ""  # the leader's pid belongs to another program now: not ours to stop
    try:
        if not stop_adopted(pgid, interrupt_grace=grace, terminate_grace=grace):
            return ""  # gone already
    except PermissionError:
        return ""  # another user's: not ours to stop
    return f"stopped the app (process group {pgid}) that a killed earlier run left running"
