"""What a refactor-check run works with: plain values the task builds once."""

from __future__ import annotations

from dataclasses import dataclass, field

from prodclone.local.commands import AppCommands
from prodclone.local.paths import Paths
from prodclone.mask.policy import MaskPolicy
from prodclone.pg.names import DatabaseNames
from prodclone.schema.result import DiffOptions
from prodclone.settings.check import CheckSettings


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
    check: CheckSettings
    masking: MaskPolicy
    schema: DiffOptions = field(default_factory=DiffOptions)
    restore_jobs: int = 2
    keep_spare: bool = True
