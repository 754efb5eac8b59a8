"""The four kinds of RDS resource this tool makes, and the calls they share.

Instances, Aurora clusters and both kinds of manual snapshot are described,
tag-checked, waited on and deleted the same way; only the API's names differ.
Each kind spells those names once, and every guarded call below takes a kind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prodclone.aws.clients import error_code
from prodclone.aws.polling import Observation, WaitPolicy, poll_until
from prodclone.aws.tags import as_dict, is_ours, require_ours
from prodclone.errors import ProdcloneError

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

Observer = Callable[[Observation, float], None]

SNAPSHOT_FAILURE_STATES = frozenset({"failed", "deleting", "deleted", "incompatible-restore"})


@dataclass(frozen=True)
class Kind:
    name: str  # as in tags, listings and messages: "instance", "cluster-snapshot", ...
    noun: str  # in waits: "instance", "cluster snapshot"
    describe_call: str
    id_param: str
    items_key: str
    not_found: str  # the error code of a describe or delete of an absent one
    arn_key: str
    status_key: str
    created_key: str
    delete_call: str
    modify_call: str = ""  # snapshots are not modified
    busy_code: str = ""  # the error code of a delete refused while it is busy
    source_param: str = ""  # a snapshot's: the parameter naming what it was taken of


INSTANCE = Kind(
    name="instance",
    noun="instance",
    describe_call="describe_db_instances",
    id_param="DBInstanceIdentifier",
    items_key="DBInstances",
    not_found="DBInstanceNotFound",
    arn_key="DBInstanceArn",
    status_key="DBInstanceStatus",
    created_key="InstanceCreateTime",
    delete_call="delete_db_instance",
    modify_call="modify_db_instance",
    busy_code="InvalidDBInstanceState",
)
SNAPSHOT = Kind(
    name="snapshot",
    noun="snapshot",
    describe_call="describe_db_snapshots",
    id_param="DBSnapshotIdentifier",
    items_key="DBSnapshots",
    not_found="DBSnapshotNotFound",
    arn_key="DBSnapshotArn",
    status_key="Status",
    created_key="SnapshotCreateTime",
    delete_call="delete_db_snapshot",
    source_param="DBInstanceIdentifier",
)
CLUSTER = Kind(
    name="cluster",
    noun="cluster",
    describe_call="describe_db_clusters",
    id_param="DBClusterIdentifier",
    items_key="DBClusters",
    not_found="DBClusterNotFoundFault",
    arn_key="DBClusterArn",
    status_key="Status",
    created_key="ClusterCreateTime",
    delete_call="delete_db_cluster",
    modify_call="modify_db_cluster",
    busy_code="InvalidDBClusterStateFault",
)
CLUSTER_SNAPSHOT = Kind(
    name="cluster-snapshot",
    noun="cluster snapshot",
    describe_call="describe_db_cluster_snapshots",
    id_param="DBClusterSnapshotIdentifier",
    items_key="DBClusterSnapshots",
    not_found="DBClusterSnapshotNotFoundFault",
    arn_key="DBClusterSnapshotArn",
    status_key="Status",
    created_key="SnapshotCreateTime",
    delete_call="delete_db_cluster_snapshot",
    source_param="DBClusterIdentifier",
)
KINDS = {kind.name: kind for kind in (INSTANCE, SNAPSHOT, CLUSTER, CLUSTER_SNAPSHOT)}


def describe_one(
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


def describe(rds: RDSClient, kind: Kind, identifier: str) -> dict[str, Any] | None:
    call = getattr(rds, kind.describe_call)
    return describe_one(lambda: call(**{kind.id_param: identifier})[kind.items_key], kind.not_found)


def tags_of(rds: RDSClient, kind: Kind, item: dict[str, Any]) -> dict[str, str]:
    if "TagList" in item:
        return as_dict(item["TagList"])
    return as_dict(rds.list_tags_for_resource(ResourceName=str(item[kind.arn_key]))["TagList"])


def exists(rds: RDSClient, kind: Kind, identifier: str) -> bool:
    return describe(rds, kind, identifier) is not None


def is_ours_now(rds: RDSClient, kind: Kind, identifier: str, run: str) -> bool:
    """Whether it exists and carries this run's tag."""
    item = describe(rds, kind, identifier)
    return item is not None and is_ours(tags_of(rds, kind, item), run)


def newest_automated_snapshot(
    rds: RDSClient, kind: Kind, source: str
) -> tuple[str, datetime] | None:
    """The source's newest available automated snapshot: (id, when its data was taken)."""
    found: list[tuple[datetime, str]] = []
    pages = rds.get_paginator(kind.describe_call).paginate(  # type: ignore[call-overload]
        **{kind.source_param: source, "SnapshotType": "automated"}
    )
    for page in pages:
        for snap in page[kind.items_key]:
            when = snap.get("SnapshotCreateTime")
            if snap.get("Status") == "available" and when is not None:
                found.append((when, str(snap[kind.id_param])))
    if not found:
        return None
    when, snapshot_id = max(found)
    return snapshot_id, when


def wait_snapshot(
    rds: RDSClient,
    kind: Kind,
    snapshot_id: str,
    wait: WaitPolicy,
    observer: Observer | None = None,
) -> None:
    def look() -> Observation:
        snap = describe(rds, kind, snapshot_id)
        if snap is None:
            return Observation("deleted", False, "the snapshot disappeared")
        status = str(snap.get("Status", ""))
        percent = 100 if status == "available" else snap.get("PercentProgress", 0)
        return Observation(status, status == "available", f"{percent}%")

    poll_until(
        f"{kind.noun} {snapshot_id}",
        look,
        wait,
        failure_states=SNAPSHOT_FAILURE_STATES,
        on_observe=observer,
    )


def delete_snapshot(
    rds: RDSClient, kind: Kind, snapshot_id: str, run: str | None, wait: WaitPolicy
) -> str:
    """Delete one of our snapshots, waiting first if it is still being created."""
    snap = describe(rds, kind, snapshot_id)
    if snap is None:
        return "absent"
    require_ours(kind.name, snapshot_id, tags_of(rds, kind, snap), run)
    if snap.get("Status") == "deleting":
        return "already deleting"
    if snap.get("Status") == "creating":
        # AWS refuses to delete a snapshot that is still being taken.
        def done() -> Observation:
            now = describe(rds, kind, snapshot_id)
            status = str(now.get("Status", "")) if now else "deleted"
            return Observation(status, status != "creating")

        poll_until(f"{kind.noun} {snapshot_id} to finish before deleting it", done, wait)
    return _delete(rds, kind, snapshot_id, {})


def set_master_password(
    rds: RDSClient, kind: Kind, identifier: str, run: str, password: str
) -> None:
    """A new master password on our instance or cluster (never the source)."""
    item = describe(rds, kind, identifier)
    if item is None:
        raise ProdcloneError(f"{kind.noun} {identifier} disappeared before its password was set")
    require_ours(kind.name, identifier, tags_of(rds, kind, item), run)
    params: dict[str, Any] = {
        kind.id_param: identifier,
        "MasterUserPassword": password,
        "ApplyImmediately": True,
    }
    if item.get("MasterUserSecret"):
        # A managed secret would own the password; the copy needs its own.
        params["ManageMasterUserPassword"] = False
    getattr(rds, kind.modify_call)(**params)


def delete_ours(rds: RDSClient, kind: Kind, identifier: str, run: str | None) -> str:
    """Delete one of our instances or clusters with no final snapshot; 'already deleting'
    is success."""
    item = describe(rds, kind, identifier)
    if item is None:
        return "absent"
    require_ours(kind.name, identifier, tags_of(rds, kind, item), run)
    if item.get(kind.status_key) in ("deleting", "deleted"):
        return "already deleting"
    if item.get("DeletionProtection"):
        getattr(rds, kind.modify_call)(
            **{kind.id_param: identifier, "DeletionProtection": False, "ApplyImmediately": True}
        )
    extra: dict[str, Any] = {"SkipFinalSnapshot": True}
    if kind is INSTANCE and not item.get("DBClusterIdentifier"):
        # An Aurora member's backups belong to its cluster, deleted on its own.
        extra["DeleteAutomatedBackups"] = True
    return _delete(rds, kind, identifier, extra)


def _delete(rds: RDSClient, kind: Kind, identifier: str, extra: dict[str, Any]) -> str:
    try:
        getattr(rds, kind.delete_call)(**{kind.id_param: identifier, **extra})
    except Exception as exc:
        code = error_code(exc)
        if code == kind.not_found:
            return "absent"
        if code == kind.busy_code and "already being deleted" in str(exc):
            return "already deleting"
        raise
    return "deleted"


def delete_when_possible(
    rds: RDSClient, kind: Kind, identifier: str, run: str | None, wait: WaitPolicy
) -> str:
    """`delete_ours`, retried while AWS says it is busy (creating, modifying, its
    instance still going)."""
    outcome: list[str] = []

    def attempt() -> Observation:
        try:
            outcome[:] = [delete_ours(rds, kind, identifier, run)]
        except Exception as exc:
            if error_code(exc) == kind.busy_code:
                return Observation("busy", False, str(exc))
            raise
        return Observation(outcome[0], True)

    poll_until(f"{kind.noun} {identifier} to accept deletion", attempt, wait)
    return outcome[0]
