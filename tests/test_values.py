"""The values the tasks build from the settings carry each setting to its own field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from prodclone.settings import load_settings
from prodclone.tasks._values import (
    check_config_of,
    check_setup_of,
    clone_target_of,
    commands_of,
    masking_of,
    names_of,
    paths_of,
)

# Every key set, and set apart from its neighbours of the same type: a value copied into
# the wrong field shows.
CONFIG = {
    "prodclone": {
        "app": "shop",
        "dump_dir": "dumps-here",
        "local": {
            "data_dir": "state-here",
            "clone_db": "shop_clone",
            "fresh_db": "shop_new",
            "db_env": {"SHOP_DB": "{db}"},
            "restore_jobs": 3,
            "keep_spare": False,
        },
        "commands": {
            "migrate": "make migrate",
            "boot": "make boot",
            "serve": "make serve",
            "smoke": ["make smoke-1", "make smoke-2"],
            "fresh_inputs": ["migrations/*.sql"],
        },
        "schema_diff": {"ignore": ["rds"], "owners": True},
        "check": {
            "expected_data_changes": ["audit"],
            "fail_on_gained_rows": True,
            "log_patterns": ["boom"],
            "exact_count_max_mb": 7,
            "sample_above_mb": 9,
            "lock_sample_seconds": 0.25,
            "max_lock_seconds": 3,
            "base_ref": "origin/main",
            "zero_downtime": False,
            "slow_statement_seconds": 2.5,
            "serve_ready_line": "ready",
            "serve_ready_port": 8123,
            "serve_timeout": 40,
            "command_timeout": 900,
            "report_dir": "out/reports",
            "app_url": "http://127.0.0.1:8123/app",
            "ui_checklist": ["look at {url}"],
        },
        "aws": {
            "region": "eu-west-3",
            "profile": "team",
            "source_cluster": "prod-cluster",
            "restore_from": "latest-snapshot",
            "database": "shopdb",
            "instance_class": "db.r6g.large",
            "tunnel": "ssh",
            "bastion": "bastion.example.invalid",
            "ssm_plugin": "plugin-elsewhere",
            "subnet_group": "private-subnets",
            "security_groups": ["sg-1", "sg-2"],
            "timeout_minutes": 45,
            "local_port": 15432,
            "tunnel_ready_seconds": 20,
            "poll_max_seconds": 7.5,
            "dump_compression": "zstd:5",
        },
        "mask": {"rules": {"public.people.email": "email"}, "in_aws": False},
    }
}


def test_the_check_and_the_clone_take_every_setting_of_their_block(tmp_path: Path) -> None:
    settings = load_settings(CONFIG, tmp_path)
    assert dataclasses.asdict(check_config_of(settings)) == dataclasses.asdict(settings.check)
    assert dataclasses.asdict(clone_target_of(settings)) == dataclasses.asdict(settings.aws)


def test_the_local_values_name_the_project_s_folders_databases_and_commands(
    tmp_path: Path,
) -> None:
    settings = load_settings(CONFIG, tmp_path, environ={"INVOKE_PRODCLONE_MASK_SECRET": "s3"})
    project = tmp_path.resolve()
    paths = paths_of(settings)
    assert (paths.project, paths.dumps, paths.state) == (
        project,
        project / "dumps-here",
        project / "state-here",
    )
    names = names_of(settings)
    assert (names.clone, names.fresh) == ("shop_clone", "shop_new")
    assert names.copies("ab" * 32).template == "shop_clone__tpl_abababababab"
    commands = commands_of(settings)
    assert commands.folder == project
    assert (commands.migrate, commands.boot, commands.serve) == (
        "make migrate",
        "make boot",
        "make serve",
    )
    assert commands.smoke == ("make smoke-1", "make smoke-2")
    assert commands.fresh_inputs == ("migrations/*.sql",)
    assert dict(commands.db_env) == {"SHOP_DB": "{db}"}
    masking = masking_of(settings)
    assert (masking.rules, masking.secret, masking.in_aws) == (settings.mask.rules, "s3", False)
    assert "s3" not in repr(masking)  # the secret stays out of logs and tracebacks

    setup = check_setup_of(settings)
    assert (setup.app, setup.restore_jobs, setup.keep_spare) == ("shop", 3, False)
    assert (setup.schema.ignore, setup.schema.owners) == (("rds",), True)
    assert (setup.paths, setup.names, setup.commands) == (paths, names, commands)
