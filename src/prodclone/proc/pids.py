"""Other processes by pid: still running, and the same one that was recorded.

A pid written to a state file may belong to another program by the time it is read
again; the start time (from /proc on Linux) tells the two apart.
"""

from __future__ import annotations

import os
from pathlib import Path


def start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or "" where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        # Field 22; the command name (field 2) may hold spaces, so count from its ")".
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def pid_alive(pid: int, started: str = "") -> bool:
    """Whether `pid` runs (someone else's process counts: not ours to judge), and, when
    `started` is given, is still the process that started then."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not started or start_time(pid) in ("", started)
