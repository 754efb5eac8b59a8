"""RDS calls: describe the source, snapshot, restore, modify, delete, list ours.

Guards live here, next to the calls: every modify or delete first checks the
resource carries our run tag and our name prefix, and the only call that names
the source instance besides describing it is `create_db_snapshot`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prodclone.aws import kinds
from prodclone.aws.kinds import INSTANCE, KINDS, SNAPSHOT, Observer
from prodclone.aws.polling import Observation, WaitPolicy, poll_until
from prodclone.aws.tags import (
    TAG_EXPIRES_AT,
    TAG_RUN,
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
    return kinds.newest_automated_snapshot(rds, SNAPSHOT, source)


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


def wait_snapshot(
    rds: RDSClient, snapshot_id: str, wait: WaitPolicy, observer: Observer | None = None
) -> None:
    kinds.wait_snapshot(rds, SNAPSHOT, snapshot_id, wait, observer)


def delete_snapshot(rds: RDSClient, snapshot_id: str, run: str | None, wait: WaitPolicy) -> str:
    """Delete one of our snapshots, waiting first if it is still being created."""
    return kinds.delete_snapshot(rds, SNAPSHOT, snapshot_id, run, wait)


def snapshot_exists(rds: RDSClient, snapshot_id: str) -> bool:
    return kinds.exists(rds, SNAPSHOT, snapshot_id)


def instance_exists(rds: RDSClient, instance_id: str) -> bool:
    return kinds.exists(rds, INSTANCE, instance_id)


def snapshot_is_ours(rds: RDSClient, snapshot_id: str, run: str) -> bool:
    """Whether the snapshot exists and carries this run's tag."""
    return kinds.is_ours_now(rds, SNAPSHOT, snapshot_id, run)


def instance_is_ours(rds: RDSClient, instance_id: str, run: str) -> bool:
    """Whether the instance exists and carries this run's tag."""
    return kinds.is_ours_now(rds, INSTANCE, instance_id, run)


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
    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier=instance_id,
        DBSnapshotIdentifier=snapshot_id,
        **_throwaway_instance(instance_class, subnet_group, security_groups, tags),
    )


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
    rds.restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier=source.identifier,
        TargetDBInstanceIdentifier=instance_id,
        UseLatestRestorableTime=True,
        **_throwaway_instance(instance_class, subnet_group, security_groups, tags),
    )


def _throwaway_instance(
    instance_class: str,
    subnet_group: str,
    security_groups: tuple[str, ...],
    tags: list[dict[str, str]],
) -> dict[str, Any]:
    """What every restore of ours asks for: private, single-AZ, no backups, deletable."""
    params: dict[str, Any] = {
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
    return params


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
    return kinds.describe(rds, INSTANCE, instance_id)


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
    kinds.set_master_password(rds, INSTANCE, instance_id, run, password)


def delete_instance(rds: RDSClient, instance_id: str, run: str | None) -> str:
    """Delete one of our instances with no final snapshot; 'already deleting' is success."""
    return kinds.delete_ours(rds, INSTANCE, instance_id, run)


def delete_instance_when_possible(
    rds: RDSClient, instance_id: str, run: str | None, wait: WaitPolicy
) -> str:
    """`delete_instance`, retried while RDS says the instance is busy (creating, modifying)."""
    return kinds.delete_when_possible(rds, INSTANCE, instance_id, run, wait)


def extend_expiry(rds: RDSClient, kind: str, identifier: str, run: str, expires: datetime) -> bool:
    """Set this run's resource's expiry tag to `expires`; False when it is absent or going."""
    what = KINDS[kind]
    item = kinds.describe(rds, what, identifier)
    if item is None or str(item.get(what.status_key, "")) in ("deleting", "deleted"):
        return False
    require_ours(kind, identifier, kinds.tags_of(rds, what, item), run)
    # The run tag goes along: the IAM policy lets us tag only with it in the request.
    rds.add_tags_to_resource(
        ResourceName=str(item[what.arn_key]),
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


def _listed(rds: RDSClient, kind: str, item: dict[str, Any]) -> CloudResource | None:
    what = KINDS[kind]
    tags = kinds.tags_of(rds, what, item)
    if not is_ours(tags):
        return None
    return CloudResource(
        kind=kind,
        identifier=str(item[what.id_param]),
        status=str(item.get(what.status_key, "")),
        created=item.get(what.created_key),
        tags=tags,
        instance_class=str(item.get("DBInstanceClass", "")),  # snapshots have none
        storage_gb=int(item.get("AllocatedStorage", 0)),
    )
