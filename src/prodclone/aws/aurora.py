"""Aurora PostgreSQL calls: describe the source cluster, clone it, and remove the clone.

The clone is a new cluster of ours, made by copy-on-write from the source (or
restored from a cluster snapshot), plus one instance in it to connect to. As in
rds.py, every modify or delete first checks the run tag and the name prefix, and
the source is named only by describes and by the calls that read it into
something new of ours (the clone, or a new cluster snapshot).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from prodclone.aws import kinds
from prodclone.aws.kinds import CLUSTER, CLUSTER_SNAPSHOT, Observer
from prodclone.aws.polling import Observation, WaitPolicy, poll_until
from prodclone.aws.rds import SourceInstance
from prodclone.errors import ProdcloneError

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

ENGINE = "aurora-postgresql"
CLUSTER_FAILURE_STATES = frozenset(
    {
        "failed",
        "incompatible-restore",
        "incompatible-parameters",
        "incompatible-network",
        "inaccessible-encryption-credentials",
        "deleting",
        "deleted",
    }
)


def describe_cluster_source(rds: RDSClient, identifier: str) -> SourceInstance:
    """The source cluster, which must exist and run Aurora PostgreSQL (read by describe only)."""
    item = kinds.describe(rds, CLUSTER, identifier)
    if item is None:
        raise ProdcloneError(
            f"Aurora cluster {identifier!r} was not found in this region; "
            "check prodclone.aws.source_cluster and prodclone.aws.region"
        )
    engine = str(item.get("Engine", ""))
    if engine != ENGINE:
        raise ProdcloneError(
            f"cluster {identifier!r} runs {engine or 'an unknown engine'}, not Aurora "
            f"PostgreSQL (engine {ENGINE!r}); only Aurora PostgreSQL clusters can be cloned"
        )
    version = str(item.get("EngineVersion", ""))
    try:
        major = int(version.split(".")[0])
    except ValueError:
        raise ProdcloneError(
            f"cannot read the PostgreSQL version of {identifier}: {version!r}"
        ) from None
    groups = tuple(
        str(g["VpcSecurityGroupId"])
        for g in item.get("VpcSecurityGroups", [])
        if g.get("Status", "active") == "active"
    )
    return SourceInstance(
        identifier=identifier,
        engine_version=version,
        major=major,
        db_name=str(item.get("DatabaseName") or ""),
        master_username=str(item.get("MasterUsername", "")),
        # Aurora bills the storage in use, not an allocation; it is what a dump may need.
        allocated_gb=int(item.get("AllocatedStorage", 0) or 0),
        subnet_group=str(item.get("DBSubnetGroup") or ""),
        security_groups=groups,
        port=int(item.get("Port") or 5432),
        instance_class="",
        backup_retention_days=int(item.get("BackupRetentionPeriod") or 0),
        latest_restorable=item.get("LatestRestorableTime"),
        kind="cluster",
    )


def newest_automated_snapshot(rds: RDSClient, source: str) -> tuple[str, datetime] | None:
    """The source cluster's newest available automated snapshot: (id, when it was taken)."""
    return kinds.newest_automated_snapshot(rds, CLUSTER_SNAPSHOT, source)


# -- cluster snapshot (the new-snapshot route) ----------------------------------------------


def create_snapshot(
    rds: RDSClient, source: SourceInstance, snapshot_id: str, tags: list[dict[str, str]]
) -> None:
    rds.create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier=snapshot_id,
        DBClusterIdentifier=source.identifier,
        Tags=tags,  # type: ignore[arg-type]
    )


def wait_snapshot(
    rds: RDSClient, snapshot_id: str, wait: WaitPolicy, observer: Observer | None = None
) -> None:
    kinds.wait_snapshot(rds, CLUSTER_SNAPSHOT, snapshot_id, wait, observer)


def snapshot_exists(rds: RDSClient, snapshot_id: str) -> bool:
    return kinds.exists(rds, CLUSTER_SNAPSHOT, snapshot_id)


def snapshot_is_ours(rds: RDSClient, snapshot_id: str, run: str) -> bool:
    return kinds.is_ours_now(rds, CLUSTER_SNAPSHOT, snapshot_id, run)


def delete_snapshot(rds: RDSClient, snapshot_id: str, run: str | None, wait: WaitPolicy) -> str:
    """Delete one of our cluster snapshots, waiting first if it is still being created."""
    return kinds.delete_snapshot(rds, CLUSTER_SNAPSHOT, snapshot_id, run, wait)


# -- the cloned cluster ----------------------------------------------------------------------


def _network(subnet_group: str, security_groups: tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if subnet_group:
        params["DBSubnetGroupName"] = subnet_group
    if security_groups:
        params["VpcSecurityGroupIds"] = list(security_groups)
    return params


def clone_cluster(
    rds: RDSClient,
    *,
    cluster_id: str,
    source: SourceInstance,
    subnet_group: str,
    security_groups: tuple[str, ...],
    tags: list[dict[str, str]],
) -> None:
    """A copy-on-write clone of the source at its latest restorable time; the source is read."""
    rds.restore_db_cluster_to_point_in_time(
        DBClusterIdentifier=cluster_id,
        SourceDBClusterIdentifier=source.identifier,
        RestoreType="copy-on-write",
        UseLatestRestorableTime=True,
        DeletionProtection=False,
        CopyTagsToSnapshot=False,
        Tags=tags,  # type: ignore[arg-type]
        **_network(subnet_group, security_groups),
    )


def restore_cluster(
    rds: RDSClient,
    *,
    cluster_id: str,
    snapshot_id: str,
    subnet_group: str,
    security_groups: tuple[str, ...],
    tags: list[dict[str, str]],
) -> None:
    rds.restore_db_cluster_from_snapshot(
        DBClusterIdentifier=cluster_id,
        SnapshotIdentifier=snapshot_id,
        Engine=ENGINE,
        DeletionProtection=False,
        CopyTagsToSnapshot=False,
        Tags=tags,  # type: ignore[arg-type]
        **_network(subnet_group, security_groups),
    )


def cluster_exists(rds: RDSClient, cluster_id: str) -> bool:
    return kinds.exists(rds, CLUSTER, cluster_id)


def cluster_is_ours(rds: RDSClient, cluster_id: str, run: str) -> bool:
    return kinds.is_ours_now(rds, CLUSTER, cluster_id, run)


def wait_cluster(
    rds: RDSClient,
    cluster_id: str,
    wait: WaitPolicy,
    observer: Observer | None = None,
    no_pending_password: bool = False,
) -> None:
    """Wait until `available` (and, when asked, no password change pending)."""

    def look() -> Observation:
        item = kinds.describe(rds, CLUSTER, cluster_id)
        if item is None:
            return Observation("deleted", False, "the cluster disappeared")
        status = str(item.get("Status", ""))
        pending = item.get("PendingModifiedValues", {}) or {}
        waiting_for_password = no_pending_password and "MasterUserPassword" in pending
        return Observation(
            status + (" (password change pending)" if waiting_for_password else ""),
            status == "available" and not waiting_for_password,
        )

    poll_until(
        f"cluster {cluster_id}",
        look,
        wait,
        failure_states=CLUSTER_FAILURE_STATES,
        on_observe=observer,
    )


def set_master_password(rds: RDSClient, cluster_id: str, run: str, password: str) -> None:
    """A new master password on our cloned cluster (never the source)."""
    kinds.set_master_password(rds, CLUSTER, cluster_id, run, password)


def delete_cluster(rds: RDSClient, cluster_id: str, run: str | None) -> str:
    """Delete one of our clusters with no final snapshot; 'already deleting' is success."""
    return kinds.delete_ours(rds, CLUSTER, cluster_id, run)


def delete_cluster_when_possible(
    rds: RDSClient, cluster_id: str, run: str | None, wait: WaitPolicy
) -> str:
    """`delete_cluster`, retried while AWS says it is busy (its instance still going)."""
    return kinds.delete_when_possible(rds, CLUSTER, cluster_id, run, wait)
