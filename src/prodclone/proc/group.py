"""Child processes in a process group of their own: started, read, timed out, stopped whole.

A child leads its own group (start_new_session), so a Ctrl-C in the terminal reaches
prodclone alone and prodclone decides how the child ends: the whole group gets
SIGINT, then SIGTERM, then SIGKILL, each after a grace period, and the leader is
always reaped. Output is read as bytes and decoded with errors="replace": an app, a
dump or a plugin that prints LATIN1 (or any bytes at all) never fails a run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# Long enough for a plugin to close its session or an app to finish a request.
INTERRUPT_GRACE = 5.0
TERMINATE_GRACE = 5.0
_POLL = 0.05

Args = str | Sequence[str]

# Secrets prodclone reads from its own environment that no child needs: an app's
# migrate command, a plugin or pg_dump could print or log its environment.
SECRET_ENV_VARS = ("INVOKE_PRODCLONE_MASK_SECRET",)


def without_secrets(env: Mapping[str, str] | None) -> dict[str, str]:
    """`env` (this process's environment when None) less prodclone's secrets."""
    source = os.environ if env is None else env
    return {name: value for name, value in source.items() if name not in SECRET_ENV_VARS}


def start(
    args: Args,
    *,
    shell: bool = False,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    stdin: int | IO[Any] | None = subprocess.DEVNULL,
    stdout: int | IO[Any] | None = subprocess.PIPE,
    stderr: int | IO[Any] | None = subprocess.STDOUT,
    **popen: Any,
) -> subprocess.Popen[bytes]:
    """Start `args` as the leader of a new process group; by default stdout and stderr
    come together on one pipe (in the order the child wrote them) and stdin is empty.
    The child never gets prodclone's secrets (SECRET_ENV_VARS), whatever `env` holds."""
    return subprocess.Popen(
        args,
        shell=shell,
        env=without_secrets(env),
        cwd=cwd,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        **popen,
    )


def decode(data: bytes, encoding: str = "utf-8") -> str:
    """`data` as text; bytes that are not `encoding` become U+FFFD instead of failing."""
    return data.decode(encoding, "replace")


def lines(stream: IO[bytes], encoding: str = "utf-8") -> Iterator[str]:
    """Each line of a binary stream as text (newline kept), never failing on bytes."""
    for raw in stream:
        yield decode(raw, encoding)


def follow(stream: IO[bytes], on_line: Callable[[str], None], name: str) -> threading.Thread:
    """A started daemon thread handing each line of `stream` to `on_line` until its end.

    Reading on a thread keeps the child from blocking on a full pipe while the
    caller waits for something else (a port, a deadline, the child's exit).
    """

    def pump() -> None:
        for line in lines(stream):
            on_line(line)

    thread = threading.Thread(target=pump, name=name, daemon=True)
    thread.start()
    return thread


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs; a zombie does not count (an orphan's
    may wait long for whoever adopted it, and the leader's waits for us)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # After the command name's ")": state, ppid, pgrp, ...
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def _leader_exited(process: subprocess.Popen[Any]) -> bool:
    """Whether the leader has exited, without reaping it: while it is an unreaped zombie
    its pid, which is the group's id, cannot be given to another process."""
    if process.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True  # reaped by another thread meanwhile


def _signal_group(process: subprocess.Popen[Any], signum: int) -> bool:
    """Send `signum` to the child's group; False when nothing of it is left.

    Once the leader is reaped its pid may only be signalled while members of its
    group live on: the kernel does not hand out a pid that is still a group's id.
    """
    if process.returncode is not None and not group_alive(process.pid):
        return False
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        return False
    return True


def _gone_within(process: subprocess.Popen[Any], grace: float) -> bool:
    deadline = time.monotonic() + grace
    while True:
        if _leader_exited(process) and not group_alive(process.pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)


def stop(
    process: subprocess.Popen[Any],
    *,
    interrupt_grace: float = INTERRUPT_GRACE,
    terminate_grace: float = TERMINATE_GRACE,
) -> None:
    """Stop the child's whole group: SIGINT, then SIGTERM, then SIGKILL; always reaped.

    Each step waits its grace period for every process of the group to end. Grandchildren
    count: a shell's `sleep`, an app server's workers, a plugin's helpers.
    """
    try:
        for signum, grace in ((signal.SIGINT, interrupt_grace), (signal.SIGTERM, terminate_grace)):
            if not _signal_group(process, signum) or _gone_within(process, grace):
                break
    finally:
        # In `finally`: a second Ctrl-C during a grace period still ends the group, and
        # whatever ignored the gentler signals (or outlived its parent) goes with it.
        _signal_group(process, signal.SIGKILL)
        process.wait()


def stop_adopted(
    pgid: int,
    *,
    interrupt_grace: float = INTERRUPT_GRACE,
    terminate_grace: float = TERMINATE_GRACE,
) -> bool:
    """Stop a group that is not our child (one a killed run left, found from its record):
    the same three signals, but no reaping, which is for whoever adopted it.

    False when nothing of the group was running. The caller makes sure the group is
    still the one it recorded (prodclone.proc.pids.start_time).
    """
    if not group_alive(pgid):
        return False
    try:
        for signum, grace in ((signal.SIGINT, interrupt_grace), (signal.SIGTERM, terminate_grace)):
            os.killpg(pgid, signum)
            deadline = time.monotonic() + grace
            while group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(_POLL)
            if not group_alive(pgid):
                return True
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it ended between the look and the signal
    return True


@dataclass(frozen=True)
class Finished:
    """A child run to its end: exit code, its output as text, and whether it timed out."""

    returncode: int
    output: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def run(
    args: Args,
    *,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    grace: float = INTERRUPT_GRACE,
    **popen: Any,
) -> Finished:
    """Run `args` in its own group to its end, output (stdout and stderr) kept as text.

    The output goes to a file, not a pipe: a daemon the command leaves behind (a server
    that `pg_ctl start` launches) would hold a pipe open and keep this call waiting.
    At `timeout`, or on an interrupt, the whole group is stopped, with `grace` seconds
    after each of SIGINT and SIGTERM.
    """
    with tempfile.TemporaryFile() as out:
        process = start(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, **popen)
        timed_out = False
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            stop(process, interrupt_grace=grace, terminate_grace=grace)
        except BaseException:
            stop(process, interrupt_grace=grace, terminate_grace=grace)
            raise
        out.seek(0)
        output = decode(out.read())
    return Finished(process.returncode, output, timed_out)


__all__ = [
    "INTERRUPT_GRACE",
    "TERMINATE_GRACE",
    "Finished",
    "decode",
    "follow",
    "group_alive",
    "lines",
    "run",
    "start",
    "stop",
    "stop_adopted",
]
