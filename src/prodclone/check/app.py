"""The app under test, run in the background for the smoke stage (the spec's `bb dev`).

It runs in its own process group, its output goes to a log file in the report
folder, it counts as ready when a configured line appears or a TCP port answers,
and the whole group is always stopped afterwards, whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from prodclone.check.setup import CheckConfig
from prodclone.errors import ProdcloneError, SettingsError
from prodclone.faults import checkpoint
from prodclone.local.appcmd import open_private, start_shell, stop_group
from prodclone.processes import start_time


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
    def __init__(
        self,
        process: subprocess.Popen[str],
        log: TextIO,
        echo: TextIO | None,
        ready_line: str,
    ) -> None:
        self.process = process
        self.ready_seconds = 0.0
        self._log = log
        self._echo = echo
        self._lines: list[str] = []
        self._ready_line = re.compile(ready_line) if ready_line else None
        self.ready = threading.Event()
        self._pump = threading.Thread(target=self._read, name="app-log", daemon=True)
        self._pump.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return "".join(self._lines)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.append(line)
            self._log.write(line)
            self._log.flush()
            if self._echo is not None:
                self._echo.write(f"  [serve] {line}")
                self._echo.flush()
            if self._ready_line is not None and self._ready_line.search(line):
                self.ready.set()

    def wait_ready(self, ready_line: str, port: int, timeout: float) -> None:
        started = time.monotonic()
        deadline = started + timeout
        while True:
            if self.ready.is_set() or (port and _port_answers(port)):
                self.ready_seconds = time.monotonic() - started
                return
            code = self.process.poll()
            if code is not None:
                self._pump.join(timeout=2)
                raise AppNotReady(f"the app exited with code {code} before it was ready", self.pid)
            if time.monotonic() >= deadline:
                what = f"the line /{ready_line}/" if ready_line else f"port {port} to answer"
                raise AppNotReady(
                    f"the app was not ready after {timeout:g}s (waited for {what})", self.pid
                )
            time.sleep(0.05)

    def stop(self) -> None:
        stop_group(self.process)
        self._pump.join(timeout=5)


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def running_app(
    command: str,
    env: dict[str, str],
    *,
    cwd: Path,
    log_path: Path,
    ready_line: str,
    ready_port: int,
    timeout: float,
    echo: TextIO | None = sys.stdout,
    record: Path | None = None,
) -> Iterator[RunningApp]:
    """Start `command`, wait until it is ready, yield it, and always stop its process group.

    With `record`, the group is written there while it runs: a run killed outright
    (SIGKILL) cannot stop it, and the next run stops it from that file.
    """
    if not ready_line and not ready_port:
        raise ValueError("running_app needs a ready line or a ready port")
    require_port_free(ready_port)
    # Private: the app's log can quote production rows.
    with open_private(log_path) as log:
        process = start_shell(command, env, cwd)
        try:
            if record is not None:
                _write_record(record, process.pid)
            app = RunningApp(process, log, echo, ready_line)
        except BaseException:
            stop_group(process)
            raise
        try:
            app.wait_ready(ready_line, ready_port, timeout)
            checkpoint("check-app-ready")
            yield app
        finally:
            app.stop()
            if record is not None:
                record.unlink(missing_ok=True)


def app_record(state_dir: Path) -> Path:
    """Where the running app's process group is written (the local state folder)."""
    return state_dir / "app.json"


def _write_record(record: Path, pid: int) -> None:
    record.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open_private(record) as handle:
        json.dump({"pgid": pid, "start": start_time(pid)}, handle)


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs; an orphan's zombie does not count
    (whoever adopted it may be slow to reap it, or never do so in a container)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def stop_leftover_app(record: Path, grace: float = 5.0) -> str:
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
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return ""  # gone already
    except PermissionError:
        return ""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _group_alive(pgid):
            break
        time.sleep(0.05)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    return f"stopped the app (process group {pgid}) that a killed earlier run left running"
