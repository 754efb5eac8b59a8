"""The plain values the packages below take, each built once from the settings.

A task reads the settings once (`settings_of`) and hands the layers below only
what they use: folders, database names, the app's commands, the masking policy.
Imported inside the tasks, like the packages they feed, to keep `inv --list` fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prodclone.check.setup import CheckSetup
    from prodclone.local.commands import AppCommands
    from prodclone.local.paths import Paths
    from prodclone.mask.policy import MaskPolicy
    from prodclone.pg.names import DatabaseNames
    from prodclone.settings import Settings


def paths_of(settings: Settings) -> Paths:
    from prodclone.local.paths import Paths

    return Paths(
        project=settings.project_dir, dumps=settings.dump_dir, state=settings.local.data_dir
    )


def names_of(settings: Settings) -> DatabaseNames:
    from prodclone.pg.names import DatabaseNames

    return DatabaseNames(clone=settings.local.clone_db, fresh=settings.local.fresh_db)


def commands_of(settings: Settings) -> AppCommands:
    from prodclone.local.commands import AppCommands

    commands = settings.commands
    return AppCommands(
        folder=settings.project_dir,
        migrate=commands.migrate,
        boot=commands.boot,
        serve=commands.serve,
        smoke=commands.smoke,
        fresh_inputs=commands.fresh_inputs,
        db_env=dict(settings.local.db_env),
    )


def masking_of(settings: Settings) -> MaskPolicy:
    from prodclone.mask.policy import MaskPolicy

    mask = settings.mask
    return MaskPolicy(rules=mask.rules, secret=mask.secret, in_aws=mask.in_aws)


def check_setup_of(settings: Settings) -> CheckSetup:
    """Everything refactor-check reads from the settings."""
    from prodclone.check.setup import CheckSetup
    from prodclone.schema.result import DiffOptions

    return CheckSetup(
        app=settings.app,
        paths=paths_of(settings),
        names=names_of(settings),
        commands=commands_of(settings),
        check=settings.check,
        masking=masking_of(settings),
        schema=DiffOptions(ignore=settings.schema_diff.ignore, owners=settings.schema_diff.owners),
        restore_jobs=settings.local.restore_jobs,
        keep_spare=settings.local.keep_spare,
    )
