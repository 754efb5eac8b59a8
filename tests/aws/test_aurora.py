"""`prodclone.aws.source_cluster`: an Aurora PostgreSQL cluster cloned, dumped and removed.

moto (server mode) supports copy-on-write restores, cluster snapshots and
instances in a cluster; the fake SSM plugin relays the tunnel to the embedded
PostgreSQL, so the dump holds real data. What moto does not model: every
resource is `available` at once, and deleting an instance is instant, so the
retry while a cluster still has an instance being deleted
(`delete_cluster_when_possible`) only ever succeeds on its first attempt here.
"""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from prodclone.aws.tags import parse_time
from prodclone.clone.faults import AURORA_STEPS
from prodclone.local.server import LocalServer
from prodclone.pg.tools import find_tool
from tests.aws.conftest import (
    SOURCE_CLUSTER,
    SOURCE_CLUSTER_MEMBER,
    Cloud,
    aws_settings,
    plugin_processes,
    prodclone_tags,
    start_inv,
)
from tests.aws.test_clone_prod import _table_digest
from tests.aws.test_faults import assert_nothing_left
from tests.aws.test_routes import READS, policy_denied
from tests.conftest import Project
from tests.terminal import wait_for_line

# moto warns that its Throttling error has no shape in the RDS model; botocore still reads it.
pytestmark = pytest.mark.filterwarnings("ignore:Exception\\(RDSClientError\\):UserWarning")


def aurora_settings(**overrides: Any) -> dict[str, Any]:
    return aws_settings(
        **{"source_instance": "", "source_cluster": SOURCE_CLUSTER, "restore_from": "auto"}
        | overrides
    )


@pytest.fixture
def aurora(cloud: Cloud) -> Cloud:
    cloud.create_cluster_source()
    return cloud


@pytest.fixture
def aurora_project(project: Project, aurora: Cloud) -> Project:
    project.configure(aurora_settings())
    return project


def test_aurora_clone_dumps_real_data_and_leaves_nothing(
    aurora_project: Project, aurora: Cloud, pg: LocalServer, fresh_db: str, prod_db: str
) -> None:
    result = aurora_project.run("db.clone-prod", "--yes", env=aurora.env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"  source     Aurora cluster {SOURCE_CLUSTER} (PostgreSQL 16.4): not touched" in out
    assert f"  route      point-in-time: auto: {SOURCE_CLUSTER} keeps 7 day(s)" in out
    assert "a copy-on-write clone from the automated backups" in out
    assert "(copy-on-write clone, subnet group" in out
    assert "(db.t4g.medium, in prodclone-" in out  # the default class Aurora accepts
    assert "the clone's storage costs only for pages that change" in out
    [dump] = sorted((aurora_project.root / "dump").glob("prod-*.dump"))
    restore = subprocess.run(
        [
            str(find_tool("pg_restore", 18, pg.extra_bin_dirs)),
            "--no-owner",
            "--dbname",
            pg.url(fresh_db),
            str(dump),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert restore.returncode == 0, restore.stderr
    assert _table_digest(pg, fresh_db) == _table_digest(pg, prod_db)

    calls = aurora.calls()
    actions = [call["action"] for call in calls]
    for action in (
        "RestoreDBClusterToPointInTime",
        "CreateDBInstance",
        "ModifyDBCluster",
        "DeleteDBInstance",
        "DeleteDBCluster",
    ):
        assert actions.count(action) == 1, action
    assert actions.index("DeleteDBInstance") < actions.index("DeleteDBCluster")
    assert not any("Snapshot" in a and not a.startswith(READS) for a in actions)
    [clone] = [c for c in calls if c["action"] == "RestoreDBClusterToPointInTime"]
    ours = clone["params"]["DBClusterIdentifier"]
    assert ours.startswith("prodclone-") and "prodclone:run" in clone["tag_keys"]
    [password] = [c for c in calls if c["action"] == "ModifyDBCluster"]
    assert password["params"] == {"DBClusterIdentifier": ours}
    [member] = [c for c in calls if c["action"] == "CreateDBInstance"]
    assert member["params"]["DBClusterIdentifier"] == ours
    assert "prodclone:run" in member["tag_keys"]
    for call in calls:  # the source is read, never changed
        named = {SOURCE_CLUSTER, SOURCE_CLUSTER_MEMBER} & set(call["params"].values())
        if named and call["action"] != "RestoreDBClusterToPointInTime":
            assert call["action"].startswith(READS), call
    assert clone["params"]["SourceDBClusterIdentifier"] == SOURCE_CLUSTER
    assert policy_denied(aurora) == []
    assert aurora.made_and_left() == [] and plugin_processes(aurora) == []
    assert aurora.source_untouched()


@pytest.mark.parametrize("route", ["new-snapshot", "latest-snapshot"])
def test_aurora_snapshot_routes(project: Project, aurora: Cloud, route: str) -> None:
    project.configure(aurora_settings(restore_from=route))
    result = project.run("db.clone-prod", "--yes", env=aurora.env)
    assert result.returncode == 0, result.stderr
    assert f"  route      {route}: " in result.stdout
    calls = aurora.calls()
    actions = [call["action"] for call in calls]
    [restore] = [c for c in calls if c["action"] == "RestoreDBClusterFromSnapshot"]
    if route == "new-snapshot":
        assert "a cluster snapshot does not pause the cluster's I/O" in result.stdout
        assert actions.count("CreateDBClusterSnapshot") == 1
        assert actions.count("DeleteDBClusterSnapshot") == 1
        assert restore["params"]["SnapshotIdentifier"].startswith("prodclone-")
    else:
        assert "(automated, AWS's own; left as it is)" in result.stdout
        assert "CreateDBClusterSnapshot" not in actions
        assert restore["params"]["SnapshotIdentifier"].startswith(f"rds:{SOURCE_CLUSTER}-")
    assert "RestoreDBClusterToPointInTime" not in actions
    assert policy_denied(aurora) == []
    assert aurora.made_and_left() == []
    assert aurora.source_untouched()


def test_aurora_instance_given_as_source_instance_says_use_source_cluster(
    project: Project, aurora: Cloud
) -> None:
    project.configure(aws_settings(source_instance=SOURCE_CLUSTER_MEMBER))
    result = project.run("db.clone-prod", "--dry-run", env=aurora.env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"prodclone: RDS instance {SOURCE_CLUSTER_MEMBER!r} is a member of Aurora cluster "
        f"{SOURCE_CLUSTER}: set prodclone.aws.source_cluster to {SOURCE_CLUSTER} "
        "(INVOKE_PRODCLONE_AWS_SOURCE_CLUSTER) instead of prodclone.aws.source_instance"
    ]
    assert all(c["action"].startswith(READS) for c in aurora.calls())


def test_both_sources_set_is_one_line(project: Project, aurora: Cloud) -> None:
    project.configure(aurora_settings(source_instance="prod-db"))
    result = project.run("db.clone-prod", "--dry-run", env=aurora.env)
    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert "prodclone.aws.source_cluster is set together with prodclone.aws.source_instance" in (
        line
    )
    assert "INVOKE_PRODCLONE_AWS_SOURCE_CLUSTER" in line


def test_exception_at_each_aurora_step_leaves_nothing(
    aurora_project: Project, aurora: Cloud
) -> None:
    # The copy-on-write route's steps, then the cluster snapshot's (new-snapshot).
    runs = [(step, "auto") for step in AURORA_STEPS]
    runs += [("snapshot", "new-snapshot"), ("snapshot-ready", "new-snapshot")]
    for step, route in runs:
        aurora_project.configure(aurora_settings(restore_from=route))
        env = {**aurora.env, "PRODCLONE_TEST_FAULT": step}
        result = aurora_project.run("db.clone-prod", "--yes", env=env)
        assert result.returncode != 0, step
        assert f"injected failure at step {step}" in result.stderr, step
        assert "CLEANUP FAILED" not in result.stderr, step
        assert_nothing_left(aurora_project, aurora)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_at_each_aurora_step_leaves_nothing(
    aurora_project: Project, aurora: Cloud, signum: signal.Signals
) -> None:
    for step in AURORA_STEPS:
        env = {**aurora.env, "PRODCLONE_TEST_FAULT": f"{step}:pause"}
        process = start_inv(aurora_project, "db.clone-prod", "--yes", env=env)
        try:
            wait_for_line(process.stderr, f"test hook: pause at {step}")
            if step == "cluster-ready":
                assert aurora.clusters() != []  # the leak check sees the live clone
            process.send_signal(signum)
            _, err = process.communicate(timeout=60)
        finally:
            process.kill()
        assert process.returncode == 130, f"{step}:\n{err}"
        assert "CLEANUP FAILED" not in err, step
        assert_nothing_left(aurora_project, aurora)


def test_tunnel_dropping_mid_dump_leaves_nothing(aurora_project: Project, aurora: Cloud) -> None:
    env = {**aurora.env, "FAKE_PLUGIN_CUT_AFTER_BYTES": "60000"}
    result = aurora_project.run("db.clone-prod", "--yes", env=env)
    assert result.returncode == 1
    assert "prodclone: pg_dump failed" in result.stderr
    assert_nothing_left(aurora_project, aurora)


def _cluster_expiry(cloud: Cloud, arn: str) -> datetime | None:
    tags = cloud.rds.list_tags_for_resource(ResourceName=arn)["TagList"]
    values = [t["Value"] for t in tags if t["Key"] == "prodclone:expires-at"]
    return parse_time(values[0]) if values else None


def test_heartbeat_keeps_the_live_clone_cluster_ahead_of_its_expiry(
    aurora_project: Project, aurora: Cloud
) -> None:
    # The shortest status-check pause: a beat every half second, not every two.
    aurora_project.configure(aurora_settings(poll_max_seconds=0.05))
    env = {**aurora.env, "PRODCLONE_TEST_FAULT": "dump:pause"}
    process = start_inv(aurora_project, "db.clone-prod", "--yes", env=env)
    try:
        wait_for_line(process.stderr, "test hook: pause at dump")
        [name] = aurora.clusters()
        arn = aurora.rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0][
            "DBClusterArn"
        ]
        past = prodclone_tags(name.removeprefix("prodclone-"), datetime.now(UTC) - timedelta(1))
        aurora.rds.add_tags_to_resource(ResourceName=arn, Tags=past)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            expiry = _cluster_expiry(aurora, arn)
            if expiry is not None and expiry > datetime.now(UTC) + timedelta(minutes=20):
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"the cluster's expiry tag was left at {expiry}")
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert_nothing_left(aurora_project, aurora)
    assert policy_denied(aurora) == []


def test_kept_aurora_clone_is_named_and_removed_with_list_clones_run(
    aurora_project: Project, aurora: Cloud
) -> None:
    result = aurora_project.run("db.clone-prod", "--yes", "--keep-instance", env=aurora.env)
    assert result.returncode == 0, result.stderr
    [name] = aurora.clusters()
    assert aurora.instances() == [name]
    assert f"prodclone: KEPT instance {name} and cluster {name} (--keep-instance)" in (
        result.stderr
    )
    assert (
        f"  then aws rds delete-db-cluster --region us-east-1 --db-cluster-identifier {name} "
        "--skip-final-snapshot"
    ) in result.stderr
    run = name.removeprefix("prodclone-")
    removed = aurora_project.run(
        "db.list-clones", "--delete", "--run", run, "--yes", env=aurora.env
    )
    assert removed.returncode == 0, removed.stderr
    assert f"instance {name}: deleted" in removed.stderr
    assert f"cluster {name}: deleted" in removed.stderr
    assert aurora.made_and_left() == []
    assert aurora.source_untouched()
