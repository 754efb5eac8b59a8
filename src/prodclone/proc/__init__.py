"""Child processes, in one place: each in its own process group, its output read as
bytes and decoded without ever failing, timed out and stopped as a whole group.

Below every other package: it imports nothing of prodclone.
"""

from prodclone.proc.group import (
    INTERRUPT_GRACE,
    TERMINATE_GRACE,
    Finished,
    decode,
    follow,
    group_alive,
    lines,
    run,
    start,
    stop,
    stop_adopted,
)
from prodclone.proc.pids import pid_alive, start_time

__all__ = [
    "INTERRUPT_GRACE",
    "TERMINATE_GRACE",
    "Finished",
    "decode",
    "follow",
    "group_alive",
    "lines",
    "pid_alive",
    "run",
    "start",
    "start_time",
    "stop",
    "stop_adopted",
]
