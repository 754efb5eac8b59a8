"""Bad inputs stop `db.clone-prod` before anything is created, with one clear line."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator

import pytest

from tests.aws.conftest import Cloud, aws_settings
from tests.conftest import Project


def assert_one_line_nothing_created(
    result: subprocess.CompletedProcess[str], cloud: Cloud, project: Project, needle: str
) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("prodclone: ")
    assert needle in lines[0]
    assert cloud.instances() == []
    assert cloud.snapshots() == []
    assert cloud.ssm.started == []
    assert not (project.root / "dump").exists()


def test_no_credentials(
    clone_project: Project, cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The run starts from this process's environment: no AWS_* variable of its own either,
    # only the fake cloud's endpoints and region.
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    env = {
        k: v
        for k, v in cloud.env.items()
        if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }
    result = clone_project.run("db.clone-prod", "--yes", env=env)
    assert_one_line_nothing_created(result, cloud, clone_project, "no AWS credentials found")


def test_unknown_instance(project: Project, cloud: Cloud) -> None:
    project.configure(aws_settings(source_instance="no-such-db"))
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert_one_line_nothing_created(result, cloud, project, "'no-such-db' was not found")


def test_not_postgres(project: Project, cloud: Cloud) -> None:
    cloud.create_source(DBInstanceIdentifier="shop-mysql", Engine="mysql", EngineVersion="8.0.35")
    project.configure(aws_settings(source_instance="shop-mysql"))
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert_one_line_nothing_created(result, cloud, project, "runs mysql, not PostgreSQL")


def test_plugin_missing(project: Project, cloud: Cloud) -> None:
    project.configure(aws_settings(ssm_plugin="no-such-session-manager-plugin"))
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert_one_line_nothing_created(result, cloud, project, "is not on PATH")


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def test_port_taken(project: Project, cloud: Cloud, taken_port: int) -> None:
    project.configure(aws_settings(local_port=taken_port))
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert_one_line_nothing_created(
        result, cloud, project, f"local port {taken_port} is already in use"
    )


def test_disk_too_small(project: Project, cloud: Cloud) -> None:
    cloud.create_source(DBInstanceIdentifier="huge-db", AllocatedStorage=60000)
    project.configure(aws_settings(source_instance="huge-db"))
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert_one_line_nothing_created(result, cloud, project, "not enough free disk")


def test_bastion_missing(project: Project, cloud: Cloud) -> None:
    project.configure(aws_settings(bastion=""))
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert_one_line_nothing_created(result, cloud, project, "prodclone.aws.bastion is not set")


def test_without_yes_and_no_terminal_nothing_is_created(
    clone_project: Project, cloud: Cloud
) -> None:
    result = clone_project.run("db.clone-prod", env=cloud.env)
    assert_one_line_nothing_created(result, cloud, clone_project, "pass --yes")


def test_dry_run_prints_the_plan_and_creates_nothing(clone_project: Project, cloud: Cloud) -> None:
    result = clone_project.run("db.clone-prod", "--dry-run", env=cloud.env)
    assert result.returncode == 0, result.stderr
    assert "snapshot   prodclone-" in result.stdout
    assert "prodclone:run=" in result.stdout and "prodclone:expires-at=" in result.stdout
    assert "estimate   about $" in result.stdout
    assert "deleted at the end)" in result.stdout and "KEPT" not in result.stdout
    assert "dry run: nothing was created" in result.stdout
    assert cloud.instances() == []
    assert cloud.snapshots() == []
    assert cloud.ssm.started == []


def test_jobs_below_one(clone_project: Project, cloud: Cloud) -> None:
    result = clone_project.run("db.clone-prod", "--yes", "--jobs", "0", env=cloud.env)
    assert_one_line_nothing_created(result, cloud, clone_project, "--jobs must be at least 1")


def test_dump_folder_not_writable(project: Project, cloud: Cloud) -> None:
    (project.root / "notes.txt").write_text("a file where the dump folder would go\n")
    project.configure({**aws_settings(), "dump_dir": "notes.txt/dump"})
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert_one_line_nothing_created(result, cloud, project, "is not a writable folder")


def test_region_from_aws_region_env_var(
    clone_project: Project, cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The error for a missing region tells the user to set AWS_REGION: it must work.
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    clone_project.configure(aws_settings(region=""))
    env = {k: v for k, v in cloud.env.items() if k != "AWS_DEFAULT_REGION"}
    env["AWS_REGION"] = cloud.env["AWS_DEFAULT_REGION"]
    result = clone_project.run("db.clone-prod", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert "dry run: nothing was created" in result.stdout


def test_dry_run_names_every_missing_setting_before_calling_aws(
    project: Project, cloud: Cloud
) -> None:
    project.configure(
        aws_settings(region="", source_instance="", bastion="", ssm_plugin="no-such-ssm-plugin")
    )
    env = {k: v for k, v in cloud.env.items() if k != "AWS_DEFAULT_REGION"}
    result = project.run("db.clone-prod", "--dry-run", env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "prodclone: db.clone-prod needs, before it calls AWS: "
        "prodclone.aws.source_instance is not set (INVOKE_PRODCLONE_AWS_SOURCE_INSTANCE): "
        "the production RDS instance's id (or prodclone.aws.source_cluster for an Aurora "
        "cluster (INVOKE_PRODCLONE_AWS_SOURCE_CLUSTER)); "
        "prodclone.aws.region is not set (INVOKE_PRODCLONE_AWS_REGION): "
        "set it or AWS_REGION to the source's region; "
        "prodclone.aws.bastion is not set (INVOKE_PRODCLONE_AWS_BASTION): "
        "with tunnel ssm, the EC2 instance id of a bastion; "
        "prodclone.aws.ssm_plugin 'no-such-ssm-plugin' is not on PATH "
        "(INVOKE_PRODCLONE_AWS_SSM_PLUGIN): "
        "install the AWS Session Manager plugin or name it there"
    ]
    calls = cloud.call_log.read_text() if cloud.call_log.exists() else ""
    assert calls == ""  # not even the identity check
    assert cloud.instances() == [] and cloud.snapshots() == []
