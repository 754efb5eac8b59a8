"""What `db.list-clones` shows: our cloud resources, local clone databases, dump files.

A cloud resource is a stray once its `prodclone:expires-at` has passed: a
running clone's heartbeat keeps that tag ahead of now, so anything past it was
left behind (or kept with --keep-instance and forgotten). A run killed moments
ago is not expired yet: it is named with the command that removes it at once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from prodclone.aws import aurora, cost, rds, tags
from prodclone.aws.polling import WaitPolicy
from prodclone.errors import ProdcloneError
from prodclone.pg import dumps

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

    from prodclone.local.server import ServerChoice


DELETE_ORDER = ("instance", "cluster", "snapshot", "cluster-snapshot")


@dataclass(frozen=True)
class CloudItem:
    kind: str
    id: str
    run: str
    status: str
    age_hours: float
    expires_at: str
    cost_usd: float
    stray: bool


@dataclass(frozen=True)
class LocalDatabase:
    name: str
    role: str
    size_bytes: int


@dataclass(frozen=True)
class DumpFile:
    path: str
    size_bytes: int
    partial: bool


@dataclass(frozen=True)
class Inventory:
    cloud: list[CloudItem]
    databases: list[LocalDatabase]
    dumps: list[DumpFile]
    local_note: str

    @property
    def strays(self) -> list[CloudItem]:
        return [item for item in self.cloud if item.stray]


def cloud_items(client: RDSClient, now: datetime | None = None) -> list[CloudItem]:
    now = now or datetime.now(UTC)
    items: list[CloudItem] = []
    for res in rds.list_ours(client):
        created = res.created or now
        age = max((now - created).total_seconds() / 3600, 0.0)
        if res.kind == "instance":
            hourly = cost.instance_hourly(res.instance_class, res.storage_gb)
        else:
            # Snapshots and clusters: storage (an Aurora cluster's compute is its instance's).
            hourly = cost.snapshot_hourly(res.storage_gb)
        expires_text = res.tags.get(tags.TAG_EXPIRES_AT, "")
        expires = tags.parse_time(expires_text)
        going = res.status in ("deleting", "deleted")
        items.append(
            CloudItem(
                kind=res.kind,
                id=res.identifier,
                run=res.tags.get(tags.TAG_RUN, ""),
                status=res.status,
                age_hours=round(age, 2),
                expires_at=expires_text,
                cost_usd=round(age * hourly, 2),
                stray=not going and (expires is None or expires <= now),
            )
        )
    return sorted(items, key=lambda item: (item.run, item.kind))


def local_items(local: ServerChoice) -> tuple[list[LocalDatabase], str]:
    """Our databases on the local server, without starting it; a note when it cannot say."""
    from prodclone.local.server import resolve_server
    from prodclone.pg import databases

    try:
        server = resolve_server(local, start=False)
        with server.connect() as conn:
            found = [
                LocalDatabase(info.name, info.role, info.size_bytes)
                for info in databases.list_databases(conn)
                if info.ours
            ]
    except ProdcloneError as exc:
        return [], f"local databases not listed: {exc}"
    return found, ""


def dump_files(dump_dir: Path) -> list[DumpFile]:
    from prodclone.pg.dumps import size_on_disk

    if not dump_dir.is_dir():
        return []
    found: list[DumpFile] = []
    for path in sorted(dump_dir.glob("prod-*")):
        if not (path.name.endswith(".dump") or path.name.endswith(dumps.PARTIAL_SUFFIX)):
            continue
        partial = path.name.endswith(dumps.PARTIAL_SUFFIX)
        found.append(DumpFile(str(path), size_on_disk(path), partial))
    return found


def render_text(inventory: Inventory) -> list[str]:
    lines = ["Cloud (RDS, tagged prodclone:run):"]
    if not inventory.cloud:
        lines.append("  none")
    for item in inventory.cloud:
        flag = "  STRAY" if item.stray else ""
        lines.append(
            f"  {item.kind:<8} {item.id:<40} run {item.run}  {item.status:<10} "
            f"age {item.age_hours:.1f}h  expires {item.expires_at or '?'}  "
            f"~${item.cost_usd:.2f}{flag}"
        )
    lines.append("Local clone databases:")
    if inventory.local_note:
        lines.append(f"  ({inventory.local_note})")
    elif not inventory.databases:
        lines.append("  none")
    for db in inventory.databases:
        lines.append(f"  {db.name:<40} {db.role:<10} {db.size_bytes / 1024**2:.1f} MiB")
    lines.append("Dump files:")
    if not inventory.dumps:
        lines.append("  none")
    for dump in inventory.dumps:
        note = "  (partial: an interrupted dump)" if dump.partial else ""
        lines.append(f"  {dump.path}  {dump.size_bytes / 1024**2:.1f} MiB{note}")
    strays = inventory.strays
    if strays:
        lines.append(
            f"{len(strays)} stray cloud resource(s) past their expiry; "
            "remove them with `inv db.list-clones --delete`"
        )
    for run, expires in live_runs(inventory.cloud):
        lines.append(
            f"run {run} is live until {expires or '?'}: a running clone-prod keeps that ahead "
            "of now; if its process was killed, remove it at once with "
            f"`inv db.list-clones --delete --run {run}`"
        )
    return lines


def live_runs(cloud: list[CloudItem]) -> list[tuple[str, str]]:
    """Runs with resources not (yet) past their expiry: (run, latest expiry)."""
    found: dict[str, str] = {}
    for item in cloud:
        if item.stray or item.status in ("deleting", "deleted"):
            continue
        found[item.run] = max(found.get(item.run, ""), item.expires_at)
    return sorted(found.items())


def of_run(cloud: list[CloudItem], run: str) -> list[CloudItem]:
    return [item for item in cloud if item.run == run]


def render_json(inventory: Inventory) -> str:
    return json.dumps(
        {
            "cloud": [asdict(item) for item in inventory.cloud],
            "local_databases": [asdict(db) for db in inventory.databases],
            "dumps": [asdict(dump) for dump in inventory.dumps],
            "local_note": inventory.local_note,
            "strays": len(inventory.strays),
        },
        indent=2,
    )


def delete_items(
    client: RDSClient, strays: list[CloudItem], wait: WaitPolicy
) -> list[tuple[CloudItem, str]]:
    """Remove these: instances first (a snapshot may still feed a restore, a cluster goes
    only once its instances have), then clusters, then snapshots; returns outcomes."""
    outcomes: list[tuple[CloudItem, str]] = []
    for item in sorted(strays, key=lambda item: DELETE_ORDER.index(item.kind)):
        try:
            if item.kind == "instance":
                outcome = rds.delete_instance_when_possible(client, item.id, None, wait)
            elif item.kind == "cluster":
                outcome = aurora.delete_cluster_when_possible(client, item.id, None, wait)
            elif item.kind == "cluster-snapshot":
                outcome = aurora.delete_snapshot(client, item.id, None, wait)
            else:
                outcome = rds.delete_snapshot(client, item.id, None, wait)
        except Exception as exc:
            outcome = f"FAILED: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        outcomes.append((item, outcome))
    return outcomes
