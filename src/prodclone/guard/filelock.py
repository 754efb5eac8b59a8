"""An exclusive lock on a file, held for a block: one writer at a time across processes.

The lock file is created 0600 and never followed through a symlink; the lock goes
with the process, so a killed holder never leaves it taken.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def open_lock_file(path: Path) -> IO[str]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    return open(fd, "w")


def lock_exclusive(handle: IO[str]) -> None:
    """Wait until `handle` holds the lock; it is released when the handle closes."""
    fcntl.flock(handle, fcntl.LOCK_EX)


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` for the block, waiting while another holds it."""
    with open_lock_file(path) as handle:
        lock_exclusive(handle)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
