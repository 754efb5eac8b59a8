"""`prodclone.aws.restore_from` on an RDS instance: which route, why, and what it touches.

The recorded call log (PRODCLONE_AWS_CALL_LOG) shows every AWS call a run made,
with the identifiers it named; docs/iam-policy.json must allow each of them.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.aws.conftest import SOURCE, Cloud, aws_settings, plugin_processes
from tests.aws.iam_eval import Policy, requests_from_log
from tests.conftest import REPO, Project

READS = ("Describe", "List", "GetCallerIdentity")
NO_BACKUPS = "prod-no-backups"


def policy_denied(cloud: Cloud) -> list[Any]:
    policy = Policy.load(REPO / "docs" / "iam-policy.json", **{"aws:userid": "tester"})
    lines = cloud.call_log.read_text().splitlines()
    requests = requests_from_log(lines, "us-east-1", "123456789012", set())
    return [r for r in requests if not policy.allows(r)]


def naming(calls: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [call for call in calls if name in call["params"].values()]


def test_default_route_with_backups_restores_from_them_and_leaves_the_source_alone(
    project: Project, cloud: Cloud
) -> None:
    project.configure(aws_settings(restore_from="auto"))  # the source keeps 1 day of backups
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"  source     instance {SOURCE} (PostgreSQL 16.3, 20 GiB): not touched" in out
    assert (
        f"  route      point-in-time: auto: {SOURCE} keeps 1 day(s) of automated backups, "
        "so the source is not touched; a restore from the automated backups"
    ) in out
    assert "  data       as of the latest restorable time, " in out
    assert "the automated backups are already paid for" in out
    assert "  snapshot " not in out
    calls = cloud.calls()
    actions = [call["action"] for call in calls]
    assert "CreateDBSnapshot" not in actions and "DeleteDBSnapshot" not in actions
    # The source is named only by reads, and by the restore that reads its backups into
    # a new instance of ours (its target), never by a call that changes anything of it.
    for call in naming(calls, SOURCE):
        if call["action"] == "RestoreDBInstanceToPointInTime":
            assert call["params"]["SourceDBInstanceIdentifier"] == SOURCE
            assert call["params"]["TargetDBInstanceIdentifier"].startswith("prodclone-")
        else:
            assert call["action"].startswith(READS), call
    assert actions.count("RestoreDBInstanceToPointInTime") == 1
    assert policy_denied(cloud) == []
    assert len(list((project.root / "dump").glob("prod-*.dump"))) == 1
    assert cloud.made_and_left() == [] and plugin_processes(cloud) == []
    assert cloud.source_untouched()


def test_latest_snapshot_restores_the_newest_automated_one_and_leaves_it(
    project: Project, cloud: Cloud
) -> None:
    [automated] = cloud.rds.describe_db_snapshots(
        DBInstanceIdentifier=SOURCE, SnapshotType="automated"
    )["DBSnapshots"]
    name = automated["DBSnapshotIdentifier"]
    project.configure(aws_settings(restore_from="latest-snapshot"))
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert result.returncode == 0, result.stderr
    assert "  route      latest-snapshot: restore_from latest-snapshot: the newest " in (
        result.stdout
    )
    assert "  data       as of " in result.stdout and " min old" in result.stdout
    assert f"  snapshot   {name} (automated, AWS's own; left as it is)" in result.stdout
    calls = cloud.calls()
    [restore] = [c for c in calls if c["action"] == "RestoreDBInstanceFromDBSnapshot"]
    assert restore["params"]["DBSnapshotIdentifier"] == name
    mutations = [c for c in calls if not c["action"].startswith(READS)]
    assert not any(name in c["params"].values() for c in mutations if c is not restore)
    assert all(SOURCE not in c["params"].values() for c in mutations)
    assert policy_denied(cloud) == []
    still = cloud.rds.describe_db_snapshots(SnapshotType="automated")["DBSnapshots"]
    assert name in [s["DBSnapshotIdentifier"] for s in still]
    assert cloud.made_and_left() == [] and plugin_processes(cloud) == []
    assert cloud.source_untouched()


@pytest.fixture
def no_backups(cloud: Cloud) -> Cloud:
    cloud.create_source(DBInstanceIdentifier=NO_BACKUPS, BackupRetentionPeriod=0)
    return cloud


def test_auto_without_backups_takes_a_new_snapshot_and_point_in_time_says_why_not(
    project: Project, no_backups: Cloud
) -> None:
    project.configure(aws_settings(source_instance=NO_BACKUPS, restore_from="auto"))
    result = project.run("db.clone-prod", "--dry-run", env=no_backups.env)
    assert result.returncode == 0, result.stderr
    assert (
        f"  route      new-snapshot: auto: {NO_BACKUPS} keeps no automated backups "
        "(retention 0), so a new snapshot is taken; on a Single-AZ instance AWS suspends "
        "the source's I/O"
    ) in result.stdout
    assert f"  source     instance {NO_BACKUPS} (PostgreSQL 16.3, 20 GiB): read only, one " in (
        result.stdout
    )
    assert "instance hours and the snapshot's storage while it lives" in result.stdout
    assert all(c["action"].startswith(READS) for c in no_backups.calls())

    project.configure(aws_settings(source_instance=NO_BACKUPS, restore_from="point-in-time"))
    result = project.run("db.clone-prod", "--dry-run", env=no_backups.env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"prodclone: prodclone.aws.restore_from is point-in-time, but {NO_BACKUPS} keeps no "
        "automated backups (retention 0); set it to new-snapshot or auto "
        "(INVOKE_PRODCLONE_AWS_RESTORE_FROM)"
    ]


def test_bad_route_names_the_key(project: Project, cloud: Cloud) -> None:
    project.configure(aws_settings(restore_from="yesterday"))
    result = project.run("db.clone-prod", "--dry-run", env=cloud.env)
    assert result.returncode != 0
    assert "prodclone.aws.restore_from" in result.stderr
    assert "INVOKE_PRODCLONE_AWS_RESTORE_FROM" in result.stderr
    assert "Traceback" not in result.stderr
