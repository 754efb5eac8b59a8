"""`inv db.list-clones`: what we left in the cloud and locally; strays found and removed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from prodclone.aws import aurora as aurora_calls
from prodclone.aws import rds as rds_calls
from prodclone.aws.polling import WaitPolicy
from prodclone.errors import ProdcloneError
from prodclone.local.server import LocalServer
from prodclone.pg import databases
from tests.aws.conftest import SOURCE, SOURCE_CLUSTER, Cloud, prodclone_tags, tagged_clone
from tests.aws.iam_eval import Policy, requests_from_log
from tests.conftest import REPO, Project
from tests.pipes import assert_no_traceback, inv_into_closed_pipe


@pytest.fixture
def local_clone(pg: LocalServer) -> Iterator[str]:
    with pg.connect() as conn:
        databases.create(conn, "shop_prod_clone_listed", "clone for list-clones test")
    yield "shop_prod_clone_listed"
    with pg.connect() as conn:
        databases.drop(conn, "shop_prod_clone_listed")


def test_lists_ours_flags_strays_and_exits_1(
    clone_project: Project, estate: Cloud, local_clone: str
) -> None:
    dump_dir = clone_project.root / "dump"
    dump_dir.mkdir()
    (dump_dir / "prod-20260101T000000Z.dump").write_bytes(b"x" * 3 * 1024**2)
    result = clone_project.run("db.list-clones", env=estate.env)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    stray_lines = [line for line in lines if line.endswith("STRAY")]
    assert len(stray_lines) == 2
    assert all("prodclone-old" in line for line in stray_lines)
    assert any("prodclone-running" in line and "STRAY" not in line for line in lines)
    assert "prodclone-untagged" not in result.stdout
    assert local_clone in result.stdout
    assert "prod-20260101T000000Z.dump  3.0 MiB" in result.stdout


def test_json_format(clone_project: Project, estate: Cloud) -> None:
    result = clone_project.run("db.list-clones", "--format", "json", env=estate.env)
    assert result.returncode == 1
    listing = json.loads(result.stdout)
    assert listing["strays"] == 2
    kinds = sorted((item["kind"], item["id"], item["stray"]) for item in listing["cloud"])
    assert kinds == [
        ("instance", "prodclone-old", True),
        ("instance", "prodclone-running", False),
        ("snapshot", "prodclone-old", True),
    ]
    assert all(item["cost_usd"] >= 0 and item["run"] for item in listing["cloud"])


def test_delete_removes_only_strays(clone_project: Project, estate: Cloud) -> None:
    result = clone_project.run("db.list-clones", "--delete", "--yes", env=estate.env)
    assert result.returncode == 0, result.stderr
    assert "instance prodclone-old: deleted" in result.stderr
    assert "snapshot prodclone-old: deleted" in result.stderr
    assert estate.instances() == ["prodclone-running"]
    assert estate.snapshots() == ["prodclone-untagged"]
    assert "prodclone-untagged" in {
        i["DBInstanceIdentifier"] for i in estate.rds.describe_db_instances()["DBInstances"]
    }
    again = clone_project.run("db.list-clones", env=estate.env)
    assert again.returncode == 0


def test_delete_asks_first_without_yes(clone_project: Project, estate: Cloud) -> None:
    result = clone_project.run("db.list-clones", "--delete", env=estate.env)
    assert result.returncode != 0
    assert "pass --yes" in result.stderr
    assert "prodclone-old" in estate.instances()


def test_guards_refuse_untagged_and_source(estate: Cloud) -> None:
    wait = WaitPolicy(5, 0.1)
    for identifier in (SOURCE, "prodclone-untagged"):
        with pytest.raises(ProdcloneError, match="refusing to touch instance"):
            rds_calls.delete_instance(estate.rds, identifier, None)
        with pytest.raises(ProdcloneError, match="refusing to touch instance"):
            rds_calls.set_master_password(estate.rds, identifier, "old", "x" * 20)
    with pytest.raises(ProdcloneError, match="refusing to touch snapshot"):
        rds_calls.delete_snapshot(estate.rds, "prodclone-untagged", None, wait)
    # A resource of another run is not this run's to delete either.
    with pytest.raises(ProdcloneError, match="prodclone:run=other"):
        rds_calls.delete_instance(estate.rds, "prodclone-old", "other")
    assert {SOURCE, "prodclone-untagged", "prodclone-old"} <= {
        i["DBInstanceIdentifier"] for i in estate.rds.describe_db_instances()["DBInstances"]
    }


def test_delete_turns_deletion_protection_off_first(clone_project: Project, cloud: Cloud) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    tagged_clone(cloud, "guarded", past, DeletionProtection=True)
    result = clone_project.run("db.list-clones", "--delete", "--yes", env=cloud.env)
    assert result.returncode == 0, result.stderr
    assert "instance prodclone-guarded: deleted" in result.stderr
    assert cloud.instances() == [] and cloud.snapshots() == []


def test_unknown_format_is_one_line(clone_project: Project, cloud: Cloud) -> None:
    result = clone_project.run("db.list-clones", "--format", "yaml", env=cloud.env)
    assert result.returncode == 2  # a bad flag, not "strays found"
    assert result.stderr.strip() == "prodclone: --format must be text or json (got 'yaml')"


def test_json_even_for_an_error_with_exit_2(clone_project: Project, estate: Cloud) -> None:
    unreachable = {**estate.env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    result = clone_project.run("db.list-clones", "--format", "json", env=unreachable)
    assert result.returncode == 2, result.stdout + result.stderr
    error = json.loads(result.stdout)
    assert error["exit_code"] == 2
    assert error["error"].startswith("cannot reach AWS: Could not connect")
    assert result.stderr.strip() == f"prodclone: {error['error']}"


def test_json_error_for_missing_settings(clone_project: Project, estate: Cloud) -> None:
    clone_project.configure({"aws": {"region": "", "source_instance": ""}})
    env = {k: v for k, v in estate.env.items() if k != "AWS_DEFAULT_REGION"}
    result = clone_project.run("db.list-clones", "--format", "json", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "prodclone.aws.region" in json.loads(result.stdout)["error"]


def test_strays_exit_1_into_a_closed_pipe_without_a_traceback(
    clone_project: Project, estate: Cloud
) -> None:
    result = inv_into_closed_pipe(clone_project.root, "db.list-clones", env=estate.env)
    assert_no_traceback(result.stderr)
    assert result.returncode == 1


def test_dry_delete_only_says_what_it_would_delete(clone_project: Project, estate: Cloud) -> None:
    result = clone_project.run("--dry", "db.list-clones", "--delete", "--yes", env=estate.env)
    assert result.returncode == 1, result.stderr
    assert "would delete instance prodclone-old" in result.stderr
    assert "would delete snapshot prodclone-old" in result.stderr
    assert "prodclone-old" in estate.instances() and "prodclone-old" in estate.snapshots()


def tagged_aurora_clone(cloud: Cloud, run: str, expires: datetime) -> None:
    """A cluster snapshot, a cluster restored from it and an instance in it, tagged like a run."""
    name, tags = f"prodclone-{run}", prodclone_tags(run, expires)
    cloud.rds.create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier=name, DBClusterIdentifier=SOURCE_CLUSTER, Tags=tags
    )
    cloud.rds.restore_db_cluster_from_snapshot(
        DBClusterIdentifier=name, SnapshotIdentifier=name, Engine="aurora-postgresql", Tags=tags
    )
    cloud.rds.create_db_instance(
        DBInstanceIdentifier=name,
        DBClusterIdentifier=name,
        Engine="aurora-postgresql",
        DBInstanceClass="db.t4g.medium",
        Tags=tags,
    )


@pytest.fixture
def aurora_estate(cloud: Cloud) -> Cloud:
    """An expired Aurora clone (stray), a running one, and an untagged look-alike cluster."""
    cloud.create_cluster_source()
    tagged_aurora_clone(cloud, "old", datetime.now(UTC) - timedelta(hours=3))
    tagged_aurora_clone(cloud, "running", datetime.now(UTC) + timedelta(hours=1))
    cloud.rds.restore_db_cluster_to_point_in_time(
        DBClusterIdentifier="prodclone-untagged",
        SourceDBClusterIdentifier=SOURCE_CLUSTER,
        RestoreType="copy-on-write",
        UseLatestRestorableTime=True,
    )
    cloud.rds.create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier="prodclone-untagged", DBClusterIdentifier=SOURCE_CLUSTER
    )
    return cloud


def test_stray_aurora_clusters_are_listed_and_deleted_with_their_instance_and_snapshot(
    clone_project: Project, aurora_estate: Cloud
) -> None:
    listed = clone_project.run("db.list-clones", "--format", "json", env=aurora_estate.env)
    assert listed.returncode == 1, listed.stderr
    kinds = sorted(
        (item["kind"], item["id"], item["stray"]) for item in json.loads(listed.stdout)["cloud"]
    )
    assert kinds == [
        ("cluster", "prodclone-old", True),
        ("cluster", "prodclone-running", False),
        ("cluster-snapshot", "prodclone-old", True),
        ("cluster-snapshot", "prodclone-running", False),
        ("instance", "prodclone-old", True),
        ("instance", "prodclone-running", False),
    ]
    result = clone_project.run("db.list-clones", "--delete", "--yes", env=aurora_estate.env)
    assert result.returncode == 0, result.stderr
    for kind in ("instance", "cluster", "cluster-snapshot"):
        assert f"{kind} prodclone-old: deleted" in result.stderr
    assert aurora_estate.instances() == ["prodclone-running"]
    assert aurora_estate.clusters() == ["prodclone-running", "prodclone-untagged"]
    assert aurora_estate.cluster_snapshots() == ["prodclone-running", "prodclone-untagged"]
    assert aurora_estate.source_untouched()
    arn = "arn:aws:rds:us-east-1:123456789012:{}:prodclone-old"
    policy = Policy.load(REPO / "docs" / "iam-policy.json", **{"aws:userid": "tester"})
    requests = requests_from_log(
        aurora_estate.call_log.read_text().splitlines(),
        "us-east-1",
        "123456789012",
        {"prodclone-old", arn.format("cluster"), arn.format("cluster-snapshot")},
    )
    assert [r for r in requests if not policy.allows(r)] == []
    assert {"rds:DeleteDBCluster", "rds:DeleteDBClusterSnapshot"} <= {r.action for r in requests}


def test_cluster_guards_refuse_untagged_and_source(aurora_estate: Cloud) -> None:
    wait = WaitPolicy(5, 0.1)
    for identifier in (SOURCE_CLUSTER, "prodclone-untagged"):
        with pytest.raises(ProdcloneError, match="refusing to touch cluster"):
            aurora_calls.delete_cluster(aurora_estate.rds, identifier, None)
        with pytest.raises(ProdcloneError, match="refusing to touch cluster"):
            aurora_calls.set_master_password(aurora_estate.rds, identifier, "old", "x" * 20)
    with pytest.raises(ProdcloneError, match="refusing to touch cluster-snapshot"):
        aurora_calls.delete_snapshot(aurora_estate.rds, "prodclone-untagged", None, wait)
    with pytest.raises(ProdcloneError, match="prodclone:run=other"):
        aurora_calls.delete_cluster(aurora_estate.rds, "prodclone-old", "other")
    assert aurora_estate.clusters() == ["prodclone-old", "prodclone-running", "prodclone-untagged"]
