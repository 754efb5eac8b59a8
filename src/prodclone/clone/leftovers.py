"""What a run keeps on this machine so that, if it is killed, its tunnel can be ended later.

A SIGKILL gives the run no chance to stop the SSM plugin or end its session.
While the tunnel is open, a 0600 record beside the password folders names the
run's pid, the session and the plugin; `db.list-clones --delete` ends what a
dead run's record names: the plugin (only if it is still the same process, by
its start time) and the session.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from prodclone.proc import pid_alive, start_time, stop_adopted

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

_PREFIX = "tunnel-"


def record_tunnel(folder: Path, run: str, session_id: str, plugin_pid: int) -> Path:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{_PREFIX}{os.getpid()}-{run}.json"
    entry = {
        "run": run,
        "pid": os.getpid(),
        "session_id": session_id,
        "plugin_pid": plugin_pid,
        "plugin_started": start_time(plugin_pid),
    }
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(entry, handle)
    return path


def end_dead_tunnels(folder: Path, ssm: SSMClient, run: str = "") -> list[str]:
    """End the plugin and the session of each run (of `run`, if given) that is no longer alive."""
    lines: list[str] = []
    for path in sorted(folder.glob(f"{_PREFIX}*.json")) if folder.is_dir() else []:
        try:
            entry = json.loads(path.read_text())
            owner, plugin = int(entry["pid"]), int(entry["plugin_pid"])
            session_id, started = str(entry["session_id"]), str(entry["plugin_started"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not one of ours, or half-written: leave it
        if pid_alive(owner) or (run and entry.get("run") != run):
            continue
        # A pid may be reused: the plugin is stopped only if it started when recorded.
        if started and start_time(plugin) == started:
            # Its own group (it was started so): SIGINT first, on which it closes its session.
            with contextlib.suppress(PermissionError):
                stop_adopted(plugin, interrupt_grace=2, terminate_grace=1)
            lines.append(f"stopped the SSM plugin (pid {plugin}) of run {entry.get('run')}")
        try:
            ssm.terminate_session(SessionId=session_id)
            lines.append(f"ended SSM session {session_id}")
        except Exception as exc:
            reason = (str(exc).splitlines() or [type(exc).__name__])[0]
            lines.append(f"could not end SSM session {session_id} ({reason}); it ends when idle")
        path.unlink(missing_ok=True)
    return lines
