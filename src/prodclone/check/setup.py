"""What a refactor-check run works with: plain values the task builds once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prodclone.local.commands import AppCommands
from prodclone.local.paths import Paths
from prodclone.mask.policy import MaskPolicy
from prodclone.pg.names import DatabaseNames
from prodclone.schema.result import DiffOptions


@dataclass(frozen=True)
class CheckConfig:
    """What the check measures, expects and waits for (`prodclone.check`), checked.

    `max_lock_seconds` None: locks are reported only. `command_timeout` None: boot and
    smoke commands run as long as they take. `report_dir` is relative to the project
    folder unless absolute. `serve_ready_port` 0: no port to wait for.
    """

    expected_data_changes: tuple[str, ...]
    fail_on_gained_rows: bool
    log_patterns: tuple[str, ...]
    exact_count_max_bytes: int
    sample_above_bytes: int
    lock_sample_seconds: float
    max_lock_seconds: float | None
    base_ref: str
    zero_downtime: bool
    slow_statement_seconds: float
    serve_ready_line: str
    serve_ready_port: int
    serve_timeout: float
    command_timeout: float | None
    report_dir: Path
    app_url: str
    ui_checklist: tuple[str, ...]


@dataclass(frozen=True)
class CheckSetup:
    """The project's folders and databases, the app's commands, the masking policy,
    the check's own options (`check`) and the schema gate's (`schema`).

    `restore_jobs` and `keep_spare` are how the reset loads the dump.
    """

    app: str
    paths: Paths
    names: DatabaseNames
    commands: AppCommands
    check: CheckConfig
    masking: MaskPolicy
    schema: DiffOptions = field(default_factory=DiffOptions)
    restore_jobs: int = 2
    keep_spare: bool = True
