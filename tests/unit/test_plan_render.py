"""The plan db.clone-prod shows before it creates anything, rendered from a plan value."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from prodclone.aws.rds import SourceInstance
from prodclone.clone.plan import ClonePlan, render_plan
from prodclone.clone.route import LATEST_SNAPSHOT, NEW_SNAPSHOT, POINT_IN_TIME, Route
from prodclone.pg.tools import ClientTool

SOURCE = SourceInstance(
    identifier="prod-db",
    engine_version="16.3",
    major=16,
    db_name="prod",
    master_username="postgres",
    allocated_gb=20,
    subnet_group="private",
    security_groups=("sg-1", "sg-2"),
    port=5432,
    instance_class="db.m6g.large",
)
PLAN = ClonePlan(
    run="r1",
    source=SOURCE,
    route=Route(NEW_SNAPSHOT, "asked for", "as of the snapshot"),
    snapshot_id="prodclone-r1",
    cluster_id="",
    instance_id="prodclone-r1",
    instance_class="db.t4g.small",
    subnet_group="private",
    security_groups=("sg-1", "sg-2"),
    database="prod",
    tags=[{"Key": "prodclone:run", "Value": "r1"}],
    dump_path=Path("dumps/prod.dump"),
    jobs=1,
    compression="",
    pg_dump=ClientTool(Path("/usr/bin/pg_dump"), 16, 3),
    pg_restore=ClientTool(Path("/usr/bin/pg_restore"), 16, 3),
    local_port=15432,
    tunnel="ssm",
    keep_instance=False,
    expires_at=datetime(2026, 1, 1, tzinfo=UTC),
    estimate_usd=0.1234,
    usual_minutes=34.4,
)


def field(lines: list[str], name: str) -> str:
    found = [line for line in lines if line.startswith(f"  {name} ")]
    assert len(found) == 1, lines
    return found[0][len(name) + 2 :].strip()


def test_new_snapshot_instance() -> None:
    lines = render_plan(PLAN, "eu-west-1")
    assert lines[0] == "Plan for run r1 (region eu-west-1):"
    assert field(lines, "source") == (
        "instance prod-db (PostgreSQL 16.3, 20 GiB): read only, one snapshot taken"
    )
    assert field(lines, "route") == "new-snapshot: asked for"
    assert field(lines, "snapshot") == "prodclone-r1 (snapshot, manual, deleted at the end)"
    assert field(lines, "instance") == (
        "prodclone-r1 (db.t4g.small, not public, single-AZ, no backups, subnet group "
        "private, security groups sg-1, sg-2; deleted at the end)"
    )
    assert field(lines, "tags") == "prodclone:run=r1"
    assert field(lines, "tunnel") == "ssm, local port 15432"
    assert field(lines, "dump") == (
        "database 'prod' -> dumps/prod.dump (custom format, compression pg_dump default, "
        "pg_dump 16)"
    )
    assert field(lines, "estimate") == (
        "about $0.12, usually 34 minutes (instance hours and the snapshot's storage while it lives)"
    )


def test_kept_instance_jobs_compression_direct_and_default_network() -> None:
    plan = replace(
        PLAN,
        keep_instance=True,
        jobs=4,
        compression="zstd:3",
        tunnel="direct",
        subnet_group="",
        security_groups=(),
    )
    lines = render_plan(plan, "eu-west-1")
    instance = field(lines, "instance")
    assert "subnet group default, security groups default" in instance
    assert instance.endswith("KEPT afterwards (--keep-instance), costing money until removed)")
    assert field(lines, "tunnel") == "direct (the instance's endpoint as it is)"
    assert "(directory format, 4 jobs, compression zstd:3, pg_dump 16)" in field(lines, "dump")


def test_latest_snapshot_names_aws_s_snapshot_and_leaves_it() -> None:
    route = Route(LATEST_SNAPSHOT, "backups kept", "as of 03:00", automated_snapshot="rds:auto")
    lines = render_plan(replace(PLAN, route=route), "eu-west-1")
    assert field(lines, "source").endswith(": not touched")
    assert field(lines, "snapshot") == "rds:auto (automated, AWS's own; left as it is)"
    assert field(lines, "estimate").endswith(
        "(instance hours; the automated backups are already paid for)"
    )


def test_point_in_time_instance_has_no_snapshot_line() -> None:
    lines = render_plan(replace(PLAN, route=Route(POINT_IN_TIME, "why", "now")), "eu-west-1")
    assert not any(line.startswith("  snapshot ") for line in lines)


def test_aurora_point_in_time_is_a_copy_on_write_clone() -> None:
    plan = replace(
        PLAN,
        source=replace(SOURCE, kind="cluster"),
        cluster_id="prodclone-r1-cluster",
        route=Route(POINT_IN_TIME, "why", "now"),
    )
    lines = render_plan(plan, "eu-west-1")
    assert field(lines, "source") == "Aurora cluster prod-db (PostgreSQL 16.3): not touched"
    assert field(lines, "cluster").startswith("prodclone-r1-cluster (copy-on-write clone, ")
    assert field(lines, "instance").startswith(
        "prodclone-r1 (db.t4g.small, in prodclone-r1-cluster"
    )
    assert field(lines, "estimate").endswith(
        "(instance hours; the clone's storage costs only for pages that change)"
    )


def test_aurora_new_snapshot_is_restored_from_a_cluster_snapshot() -> None:
    plan = replace(PLAN, cluster_id="c1")
    lines = render_plan(plan, "eu-west-1")
    assert field(lines, "snapshot") == "prodclone-r1 (cluster snapshot, manual, deleted at the end)"
    assert field(lines, "cluster").startswith("c1 (restored, ")
