"""RDS calls: describe the source, snapshot, restore, modify, delete, list ours.

Guards live here, next to the calls: every modify or delete first checks the
resource carries our run tag and our name prefix, and the only call that names
the source instance besides describing it is `create_db_snapshot`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prodclone.aws.clients import error_code
from prodclone.aws.polling import Observation, WaitPolicy, poll_until
from prodclone.aws.tags import (
    TAG_EXPIRES_AT,
    TAG_RUN,
    as_dict,
    format_time,
    is_ours,
    require_ours,
)
from prodclone.errors import ProdcloneError

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

INSTANCE_FAILURE_STATES = frozenset(
    {
        "failed",
        "incompatible-restore",
        "incompatible-parameters",
        "incompatible-network",
        "incompatible-option-group",
        "inaccessible-encryption-credentials",
        "storage-full",
        "deleting",
        "deleted",
    }
)
SNAPSHOT_FAILURE_STATES = frozenset({"failed", "deleting", "deleted", "incompatible-restore"})

Observer = Callable[[Observation, float], None]
# How long a deletion may wait (for a snapshot still being taken, an instance still busy).
DELETE_WAIT_SECONDS = 45 * 60


@dataclass(frozen=True)
class SourceInstance:
    identifier: str
    engine_version: str
    major: int
    db_name: str
    master_username: str
    allocated_gb: int
    subnet_group: str
    security_groups: tuple[str, ...]
    port: int
    instance_class: str
    backup_retention_days: int = 0  # 0: the source keeps no automated backups
    latest_restorable: datetime | None = None  # the newest point a restore can reach
    kind: str = "instance"  # "instance" | "cluster" (Aurora)


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    master_username: str


def describe_source(rds: RDSClient, identifier: str) -> SourceInstance:
    """The source instance, which must exist and run PostgreSQL."""
    if not identifier:
        raise ProdcloneError(
            "prodclone.aws.source_instance is not set: name the production RDS instance "
            "(INVOKE_PRODCLONE_AWS_SOURCE_INSTANCE), or an Aurora cluster in "
            "prodclone.aws.source_cluster"
        )
    item = _instance(rds, identifier)
    if item is None:
        raise ProdcloneError(
            f"RDS instance {identifier!r} was not found in this region; "
            "check prodclone.aws.source_instance and prodclone.aws.region"
        )
    engine = str(item.get("Engine", ""))
    cluster = str(item.get("DBClusterIdentifier") or "")
    if cluster or engine.startswith("aurora"):
        raise ProdcloneError(
            f"RDS instance {identifier!r} is a member of Aurora cluster {cluster or '?'}: "
            f"set prodclone.aws.source_cluster to {cluster or 'the cluster'} "
            "(INVOKE_PRODCLONE_AWS_SOURCE_CLUSTER) instead of prodclone.aws.source_instance"
        )
    if engine != "postgres":
        raise ProdcloneError(
            f"RDS instance {identifier!r} runs {engine or 'an unknown engine'}, not PostgreSQL "
            "(engine 'postgres'); only RDS for PostgreSQL can be cloned"
        )
    version = str(item.get("EngineVersion", ""))
    try:
        major = int(version.split(".")[0])
    except ValueError:
        raise ProdcloneError(
            f"cannot read the PostgreSQL version of {identifier}: {version!r}"
        ) from None
    subnet = item.get("DBSubnetGroup", {}).get("DBSubnetGroupName", "")
    groups = tuple(
        str(g["VpcSecurityGroupId"])
        for g in item.get("VpcSecurityGroups", [])
        if g.get("Status", "active") == "active"
    )
    return SourceInstance(
        identifier=identifier,
        engine_version=version,
        major=major,
        db_name=str(item.get("DBName") or ""),
        master_username=str(item.get("MasterUsername", "")),
        allocated_gb=int(item.get("AllocatedStorage", 0)),
        subnet_group=str(subnet),
        security_groups=groups,
        port=int(item.get("Endpoint", {}).get("Port", 0) or item.get("DbInstancePort", 0) or 5432),
        instance_class=str(item.get("DBInstanceClass", "")),
        backup_retention_days=int(item.get("BackupRetentionPeriod") or 0),
        latest_restorable=item.get("LatestRestorableTime"),
    )


def newest_automated_snapshot(rds: RDSClient, source: str) -> tuple[str, datetime] | None:
    """The source's newest available automated snapshot: (id, when its data was taken)."""
    found: list[tuple[datetime, str]] = []
    for page in rds.get_paginator("describe_db_snapshots").paginate(
        DBInstanceIdentifier=source, SnapshotType="automated"
    ):
        for snap in page["DBSnapshots"]:
            when = snap.get("SnapshotCreateTime")
            if snap.get("Status") == "available" and when is not None:
                found.append((when, str(snap["DBSnapshotIdentifier"])))
    if not found:
        return None
    when, snapshot_id = max(found)
    return snapshot_id, when


# -- snapshot -------------------------------------------------------------------------


def create_snapshot(
    rds: RDSClient, source: SourceInstance, snapshot_id: str, tags: list[dict[str, str]]
) -> None:
    # The one call on the source: it creates a new, separate resource.
    rds.create_db_snapshot(
        DBSnapshotIdentifier=snapshot_id,
        DBInstanceIdentifier=source.identifier,
        Tags=tags,  # type: ignore[arg-type]
    )


def _snapshot(rds: RDSClient, snapshot_id: str) -> dict[str, Any] | None:
    return _describe_one(
        lambda: rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"],
        "DBSnapshotNotFound",
    )


def _describe_one(
    describe: Callable[[], Sequence[Any]], not_found_code: str
) -> dict[str, Any] | None:
    """The one item a describe-by-identifier returns, or None when AWS says it does not exist."""
    try:
        found = describe()
    except Exception as exc:
        if error_code(exc) == not_found_code:
            return None
        raise
    return dict(found[0]) if found else None


def wait_snapshot(
    rds: RDSClient, snapshot_id: str, wait: WaitPolicy, observer: Observer | None = None
) -> None:
    def look() -> Observation:
        snap = _snapshot(rds, snapshot_id)
        if snap is None:
            return Observation("deleted", False, "the snapshot disappeared")
        status = str(snap.get("Status", ""))
        percent = 100 if status == "available" else snap.get("PercentProgress", 0)
        return Observation(status, status == "available", f"{percent}%")

    poll_until(
        f"snapshot {snapshot_id}",
        look,
        wait,
        failure_states=SNAPSHOT_FAILURE_STATES,
        on_observe=observer,
    )


def delete_snapshot(rds: RDSClient, snapshot_id: str, run: str | None, wait: WaitPolicy) -> str:
    """Delete one of our snapshots, waiting first if it is still being created."""
    snap = _snapshot(rds, snapshot_id)
    if snap is None:
        return "absent"
    tags = _tags(rds, snap, "DBSnapshotArn")
    require_ours("snapshot", snapshot_id, tags, run)
    if snap.get("Status") == "deleting":
        return "already deleting"
    if snap.get("Status") == "creating":
        # RDS refuses to delete a snapshot that is still being taken.
        poll_until(
            f"snapshot {snapshot_id} to finish before deleting it",
            lambda: _snapshot_done(rds, snapshot_id),
            wait,
        )
    try:
        rds.delete_db_snapshot(DBSnapshotIdentifier=snapshot_id)
    except Exception as exc:
        if error_code(exc) == "DBSnapshotNotFound":
            return "absent"
        raise
    return "deleted"


def snapshot_exists(rds: RDSClient, snapshot_id: str) -> bool:
    return _snapshot(rds, snapshot_id) is not None


def instance_exists(rds: RDSClient, instance_id: str) -> bool:
    return _instance(rds, instance_id) is not None


def snapshot_is_ours(rds: RDSClient, snapshot_id: str, run: str) -> bool:
    """Whether the snapshot exists and carries this run's tag."""
    snap = _snapshot(rds, snapshot_id)
    return snap is not None and is_ours(_tags(rds, snap, "DBSnapshotArn"), run)


def instance_is_ours(rds: RDSClient, instance_id: str, run: str) -> bool:
    """Whether the instance exists and carries this run's tag."""
    item = _instance(rds, instance_id)
    return item is not None and is_ours(_tags(rds, item, "DBInstanceArn"), run)


def appears(what: str, exists: Callable[[], bool], wait: WaitPolicy) -> bool:
    """Whether `exists` turns true within the wait: a create whose answer never arrived
    (interrupted mid-call) may still have happened, and lists can lag behind a create."""

    def look() -> Observation:
        found = exists()
        return Observation("present" if found else "absent", found)

    try:
        poll_until(what, look, wait)
    except ProdcloneError:
        return False
    return True


def _snapshot_done(rds: RDSClient, snapshot_id: str) -> Observation:
    snap = _snapshot(rds, snapshot_id)
    status = str(snap.get("Status", "")) if snap else "deleted"
    return Observation(status, status != "creating")


# -- throwaway instance ------------------------------------------------------------------


def restore_instance(
    rds: RDSClient,
    *,
    instance_id: str,
    snapshot_id: str,
    instance_class: str,
    subnet_group: str,
    security_groups: tuple[str, ...],
    tags: list[dict[str, str]],
) -> None:
    params: dict[str, Any] = {
        "DBInstanceIdentifier": instance_id,
        "DBSnapshotIdentifier": snapshot_id,
        "DBInstanceClass": instance_class,
        "PubliclyAccessible": False,
        "MultiAZ": False,
        "DeletionProtection": False,
        "BackupRetentionPeriod": 0,
        "CopyTagsToSnapshot": False,
        "Tags": tags,
    }
    if subnet_group:
        params["DBSubnetGroupName"] = subnet_group
    if security_groups:
        params["VpcSecurityGroupIds"] = list(security_groups)
    rds.restore_db_instance_from_db_snapshot(**params)


def restore_instance_to_latest_time(
    rds: RDSClient,
    *,
    instance_id: str,
    source: SourceInstance,
    instance_class: str,
    subnet_group: str,
    security_groups: tuple[str, ...],
    tags: list[dict[str, str]],
) -> None:
    """A new instance of ours from the source's automated backups; the source is only read."""
    params: dict[str, Any] = {
        "SourceDBInstanceIdentifier": source.identifier,
        "TargetDBInstanceIdentifier": instance_id,
        "UseLatestRestorableTime": True,
        "DBInstanceClass": instance_class,
        "PubliclyAccessible": False,
        "MultiAZ": False,
        "DeletionProtection": False,
        "BackupRetentionPeriod": 0,
        "CopyTagsToSnapshot": False,
        "Tags": tags,
    }
    if subnet_group:
        params["DBSubnetGroupName"] = subnet_group
    if security_groups:
        params["VpcSecurityGroupIds"] = list(security_groups)
    rds.restore_db_instance_to_point_in_time(**params)


def create_cluster_instance(
    rds: RDSClient,
    *,
    instance_id: str,
    cluster_id: str,
    instance_class: str,
    tags: list[dict[str, str]],
) -> None:
    """The one instance in our cloned Aurora cluster, to connect to."""
    rds.create_db_instance(
        DBInstanceIdentifier=instance_id,
        DBClusterIdentifier=cluster_id,
        Engine="aurora-postgresql",
        DBInstanceClass=instance_class,
        PubliclyAccessible=False,
        Tags=tags,  # type: ignore[arg-type]
    )


def _instance(rds: RDSClient, instance_id: str) -> dict[str, Any] | None:
    return _describe_one(
        lambda: rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"],
        "DBInstanceNotFound",
    )


def wait_instance(
    rds: RDSClient,
    instance_id: str,
    wait: WaitPolicy,
    observer: Observer | None = None,
    no_pending_password: bool = False,
) -> Endpoint:
    """Wait until `available` (and, when asked, no password change pending)."""
    seen: list[dict[str, Any]] = []

    def look() -> Observation:
        item = _instance(rds, instance_id)
        if item is None:
            return Observation("deleted", False, "the instance disappeared")
        seen[:] = [item]
        status = str(item.get("DBInstanceStatus", ""))
        pending = item.get("PendingModifiedValues", {}) or {}
        waiting_for_password = no_pending_password and "MasterUserPassword" in pending
        detail = str(item.get("StatusInfos") or "")
        return Observation(
            status + (" (password change pending)" if waiting_for_password else ""),
            status == "available" and not waiting_for_password,
            detail,
        )

    poll_until(
        f"instance {instance_id}",
        look,
        wait,
        failure_states=INSTANCE_FAILURE_STATES,
        on_observe=observer,
    )
    endpoint = seen[0].get("Endpoint") or {}
    return Endpoint(
        host=str(endpoint.get("Address", "")),
        port=int(endpoint.get("Port", 5432)),
        master_username=str(seen[0].get("MasterUsername", "")),
    )


def set_master_password(rds: RDSClient, instance_id: str, run: str, password: str) -> None:
    """A new master password on our throwaway instance (never the source)."""
    item = _instance(rds, instance_id)
    if item is None:
        raise ProdcloneError(f"instance {instance_id} disappeared before its password was set")
    require_ours("instance", instance_id, _tags(rds, item, "DBInstanceArn"), run)
    params: dict[str, Any] = {
        "DBInstanceIdentifier": instance_id,
        "MasterUserPassword": password,
        "ApplyImmediately": True,
    }
    if item.get("MasterUserSecret"):
        # A managed secret would own the password; the copy needs its own.
        params["ManageMasterUserPassword"] = False
    rds.modify_db_instance(**params)


def delete_instance(rds: RDSClient, instance_id: str, run: str | None) -> str:
    """Delete one of our instances with no final snapshot; 'already deleting' is success."""
    item = _instance(rds, instance_id)
    if item is None:
        return "absent"
    require_ours("instance", instance_id, _tags(rds, item, "DBInstanceArn"), run)
    if item.get("DBInstanceStatus") in ("deleting", "deleted"):
        return "already deleting"
    if item.get("DeletionProtection"):
        rds.modify_db_instance(
            DBInstanceIdentifier=instance_id, DeletionProtection=False, ApplyImmediately=True
        )
    params: dict[str, Any] = {"DBInstanceIdentifier": instance_id, "SkipFinalSnapshot": True}
    if not item.get("DBClusterIdentifier"):
        # An Aurora member's backups belong to its cluster, deleted on its own.
        params["DeleteAutomatedBackups"] = True
    try:
        rds.delete_db_instance(**params)
    except Exception as exc:
        code = error_code(exc)
        if code == "DBInstanceNotFound":
            return "absent"
        if code == "InvalidDBInstanceState" and "already being deleted" in str(exc):
            return "already deleting"
        raise
    return "deleted"


def delete_instance_when_possible(
    rds: RDSClient, instance_id: str, run: str | None, wait: WaitPolicy
) -> str:
    """`delete_instance`, retried while RDS says the instance is busy (creating, modifying)."""
    outcome: list[str] = []

    def attempt() -> Observation:
        try:
            outcome[:] = [delete_instance(rds, instance_id, run)]
        except Exception as exc:
            if error_code(exc) == "InvalidDBInstanceState":
                return Observation("busy", False, str(exc))
            raise
        return Observation(outcome[0], True)

    poll_until(
        f"instance {instance_id} to accept deletion",
        attempt,
        wait,
    )
    return outcome[0]


def _tags(rds: RDSClient, item: dict[str, Any], arn_key: str) -> dict[str, str]:
    if "TagList" in item:
        return as_dict(item["TagList"])
    return as_dict(rds.list_tags_for_resource(ResourceName=str(item[arn_key]))["TagList"])


def _cluster(rds: RDSClient, cluster_id: str) -> dict[str, Any] | None:
    return _describe_one(
        lambda: rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"],
        "DBClusterNotFoundFault",
    )


def _cluster_snapshot(rds: RDSClient, snapshot_id: str) -> dict[str, Any] | None:
    return _describe_one(
        lambda: rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot_id)[
            "DBClusterSnapshots"
        ],
        "DBClusterSnapshotNotFoundFault",
    )


# Per kind: how to describe one by id, and the response keys of its ARN and status.
_LOOKUP: dict[str, tuple[Callable[[RDSClient, str], dict[str, Any] | None], str, str]] = {
    "instance": (_instance, "DBInstanceArn", "DBInstanceStatus"),
    "snapshot": (_snapshot, "DBSnapshotArn", "Status"),
    "cluster": (_cluster, "DBClusterArn", "Status"),
    "cluster-snapshot": (_cluster_snapshot, "DBClusterSnapshotArn", "Status"),
}


def extend_expiry(rds: RDSClient, kind: str, identifier: str, run: str, expires: datetime) -> bool:
    """Set this run's resource's expiry tag to `expires`; False when it is absent or going."""
    describe, arn_key, status = _LOOKUP[kind]
    item = describe(rds, identifier)
    if item is None or str(item.get(status, "")) in ("deleting", "deleted"):
        return False
    require_ours(kind, identifier, _tags(rds, item, arn_key), run)
    # The run tag goes along: the IAM policy lets us tag only with it in the request.
    rds.add_tags_to_resource(
        ResourceName=str(item[arn_key]),
        Tags=[
            {"Key": TAG_RUN, "Value": run},
            {"Key": TAG_EXPIRES_AT, "Value": format_time(expires)},
        ],
    )
    return True


# -- listing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CloudResource:
    kind: str  # "instance" | "snapshot" | "cluster" | "cluster-snapshot"
    identifier: str
    status: str
    created: datetime | None
    tags: dict[str, str]
    instance_class: str
    storage_gb: int


def list_ours(rds: RDSClient) -> list[CloudResource]:
    """Every instance, Aurora cluster and manual (cluster) snapshot in the region that
    carries our run tag."""
    items: list[tuple[str, dict[str, Any]]] = []
    for page in rds.get_paginator("describe_db_instances").paginate():
        items.extend(("instance", dict(item)) for item in page["DBInstances"])
    for snapshots in rds.get_paginator("describe_db_snapshots").paginate(SnapshotType="manual"):
        items.extend(("snapshot", dict(snap)) for snap in snapshots["DBSnapshots"])
    for clusters in rds.get_paginator("describe_db_clusters").paginate():
        items.extend(("cluster", dict(cluster)) for cluster in clusters["DBClusters"])
    for cluster_snapshots in rds.get_paginator("describe_db_cluster_snapshots").paginate(
        SnapshotType="manual"
    ):
        items.extend(
            ("cluster-snapshot", dict(snap)) for snap in cluster_snapshots["DBClusterSnapshots"]
        )
    found = (_listed(rds, kind, item) for kind, item in items)
    return [resource for resource in found if resource is not None]


# Per kind: the response keys of its ARN, identifier, status and creation time.
_LISTED_KEYS = {
    "instance": ("DBInstanceArn", "DBInstanceIdentifier", "DBInstanceStatus", "InstanceCreateTime"),
    "snapshot": ("DBSnapshotArn", "DBSnapshotIdentifier", "Status", "SnapshotCreateTime"),
    "cluster": ("DBClusterArn", "DBClusterIdentifier", "Status", "ClusterCreateTime"),
    "cluster-snapshot": (
        "DBClusterSnapshotArn",
        "DBClusterSnapshotIdentifier",
        "Status",
        "SnapshotCreateTime",
    ),
}


def _listed(rds: RDSClient, kind: str, item: dict[str, Any]) -> CloudResource | None:
    arn_key, id_key, status_key, created_key = _LISTED_KEYS[kind]
    tags = _tags(rds, item, arn_key)
    if not is_ours(tags):
        return None
    return CloudResource(
        kind=kind,
        identifier=str(item[id_key]),
        status=str(item.get(status_key, "")),
        created=item.get(created_key),
        tags=tags,
        instance_class=str(item.get("DBInstanceClass", "")),  # snapshots have none
        storage_gb=int(item.get("AllocatedStorage", 0)),
    )
