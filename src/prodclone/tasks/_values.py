"""The plain values the packages below take, each built once from the settings.

A task reads the settings once (`settings_of`) and hands the layers below only
what they use: folders, database names, the app's commands, the masking policy.
Imported inside the tasks, like the packages they feed, to keep `inv --list` fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prodclone.check.setup import CheckConfig, CheckSetup
    from prodclone.clone.target import CloneTarget
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


def check_config_of(settings: Settings) -> CheckConfig:
    """What refactor-check measures, expects and waits for."""
    from prodclone.check.setup import CheckConfig

    check = settings.check
    return CheckConfig(
        expected_data_changes=check.expected_data_changes,
        fail_on_gained_rows=check.fail_on_gained_rows,
        log_patterns=check.log_patterns,
        exact_count_max_bytes=check.exact_count_max_bytes,
        sample_above_bytes=check.sample_above_bytes,
        lock_sample_seconds=check.lock_sample_seconds,
        max_lock_seconds=check.max_lock_seconds,
        base_ref=check.base_ref,
        zero_downtime=check.zero_downtime,
        slow_statement_seconds=check.slow_statement_seconds,
        serve_ready_line=check.serve_ready_line,
        serve_ready_port=check.serve_ready_port,
        serve_timeout=check.serve_timeout,
        command_timeout=check.command_timeout,
        report_dir=check.report_dir,
        app_url=check.app_url,
        ui_checklist=check.ui_checklist,
    )


def check_setup_of(settings: Settings) -> CheckSetup:
    """Everything refactor-check reads from the settings."""
    from prodclone.check.setup import CheckSetup
    from prodclone.schema.result import DiffOptions

    return CheckSetup(
        app=settings.app,
        paths=paths_of(settings),
        names=names_of(settings),
        commands=commands_of(settings),
        check=check_config_of(settings),
        masking=masking_of(settings),
        schema=DiffOptions(ignore=settings.schema_diff.ignore, owners=settings.schema_diff.owners),
        restore_jobs=settings.local.restore_jobs,
        keep_spare=settings.local.keep_spare,
    )


def clone_target_of(settings: Settings) -> CloneTarget:
    """The source in AWS and the way to its throwaway copy, for db.clone-prod."""
    from prodclone.clone.target import CloneTarget

    aws = settings.aws
    return CloneTarget(
        region=aws.region,
        profile=aws.profile,
        source_instance=aws.source_instance,
        source_cluster=aws.source_cluster,
        restore_from=aws.restore_from,
        database=aws.database,
        instance_class=aws.instance_class,
        tunnel=aws.tunnel,
        bastion=aws.bastion,
        ssm_plugin=aws.ssm_plugin,
        subnet_group=aws.subnet_group,
        security_groups=aws.security_groups,
        timeout_minutes=aws.timeout_minutes,
        local_port=aws.local_port,
        tunnel_ready_seconds=aws.tunnel_ready_seconds,
        poll_max_seconds=aws.poll_max_seconds,
        dump_compression=aws.dump_compression,
    )
