"""What a refactor-check run records: its stages, their verdicts, figures and timings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prodclone.local.appcmd import TERMINAL, Echo

if TYPE_CHECKING:
    from invoke.context import Context

# The app's output during the smoke stage, kept in the report folder.
APP_LOG = "app.log"
# The migrate command's whole output (the terminal gets a summary), on the clone and fresh.
MIGRATE_LOG = "migrate.log"
FRESH_LOG = "fresh-migrate.log"


@dataclass(frozen=True)
class CheckOptions:
    """The task's flags; `echo` receives the app commands' output (None: quiet).

    `context` is the task's Invoke Context: app commands run through its `run`, so
    Invoke's --echo, --hide and --command-timeout apply to them.
    """

    dump: Path | None = None
    skip_smoke: bool = False
    report_dir: Path | None = None
    keep_going: bool = False
    force_restore: bool = False
    echo: Echo = TERMINAL
    context: Context | None = None


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_RUN = "not run"
    INTERRUPTED = "interrupted"
    # A finding shown in the verdict that does not fail the check (check.zero_downtime off).
    WARNING = "warning"


# The gates in the order they run; the key names the stage in every report.
STAGES: tuple[tuple[str, str], ...] = (
    ("reset", "Reset the clone from the dump"),
    ("boot", "Boot check: the running release's code against the pre-migration clone"),
    ("baseline", "Baseline: row counts and column fingerprints by table OID"),
    ("migrate", "Migrate the clone (every lock and rewrite recorded, slow statements sampled)"),
    ("references", "Reference gate: function bodies against the migrated catalog"),
    ("data", "Data preservation"),
    ("fresh", "Fresh database from all migrations"),
    ("schema", "Schema gate: clone vs fresh"),
    ("smoke", "Smoke: app, ingestion commands, log scan"),
    ("deploy", "Deploy window: the running release's code against the migrated clone"),
)
# The app's output while the running release's code serves the migrated clone.
BASE_APP_LOG = "app-base.log"


@dataclass
class StageResult:
    key: str
    title: str
    status: Status = Status.NOT_RUN
    seconds: float = 0.0
    # Time spent in the user's own commands (migrate, boot, serve, smoke): not the tool's.
    command_seconds: float = 0.0
    summary: str = ""
    details: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    # Shown under the stage's line as it ends: the first of what the report holds in full.
    terminal: list[str] = field(default_factory=list)

    @property
    def tool_seconds(self) -> float:
        return max(self.seconds - self.command_seconds, 0.0)

    def fail(self, summary: str, *details: str) -> None:
        self.status = Status.FAILED
        self.summary = summary
        self.details.extend(details)

    def passed(self, summary: str) -> None:
        self.status = Status.PASSED
        self.summary = summary

    def warn(self, summary: str, *details: str) -> None:
        self.status = Status.WARNING
        self.summary = summary
        self.details.extend(details)

    def skip(self, summary: str) -> None:
        self.status = Status.SKIPPED
        self.summary = summary


@dataclass
class CheckRun:
    app: str
    clone_db: str
    fresh_db: str
    started_at: datetime
    report_dir: Path
    dump: str = ""
    stages: list[StageResult] = field(
        default_factory=lambda: [StageResult(key, title) for key, title in STAGES]
    )
    interrupted_at: str | None = None
    checklist: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def stage(self, key: str) -> StageResult:
        for stage in self.stages:
            if stage.key == key:
                return stage
        raise KeyError(key)

    @property
    def failed(self) -> list[StageResult]:
        return [stage for stage in self.stages if stage.status is Status.FAILED]

    @property
    def passed(self) -> bool:
        return self.interrupted_at is None and not self.failed

    @property
    def verdict(self) -> str:
        if self.interrupted_at is not None:
            return f"INTERRUPTED during {self.interrupted_at}"
        warned = [stage.key for stage in self.stages if stage.status is Status.WARNING]
        warning = (
            "; the running release breaks on this migration (deploy window)"
            if "deploy" in warned
            else ""
        )
        if self.failed:
            return "FAILED at " + ", ".join(stage.key for stage in self.failed) + warning
        if self.stage("smoke").status is Status.SKIPPED:
            # Not the same pass: the app never ran on the migrated clone.
            return "PASSED (smoke skipped)" + warning
        return "PASSED" + warning

    @property
    def shown_checklist(self) -> list[str]:
        """The manual UI checklist, once there is a migrated clone to click through."""
        return self.checklist if self.stage("migrate").status is Status.PASSED else []

    @property
    def tool_seconds(self) -> float:
        return sum(stage.tool_seconds for stage in self.stages)
