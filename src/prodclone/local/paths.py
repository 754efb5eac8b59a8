"""Where a project keeps its files: built once by a task from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    """The folders a task works in, each already absolute.

    `project` holds tasks.py and invoke.yaml: app commands run there and relative
    settings start there. `dumps` receives the production dumps. `state` is prodclone's
    private folder on this machine (the embedded server's data, locks, records of what a
    killed run left).
    """

    project: Path
    dumps: Path
    state: Path
