"""Which way the throwaway copy is made (`prodclone.aws.restore_from`), and why.

- point-in-time: from the automated backups AWS already keeps, at the latest
  restorable time (an Aurora cluster: a copy-on-write clone). Nothing is done to
  the source; the data is minutes old.
- latest-snapshot: from the newest automated snapshot; the fastest restore, with
  data as old as that snapshot.
- new-snapshot: a new snapshot of the source first. On a Single-AZ instance AWS
  suspends its I/O briefly while the snapshot starts; the data is as of the run.

`auto` takes point-in-time when the source keeps automated backups, else new-snapshot.
The source's settings that decide it were read with describe calls only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from prodclone.aws.rds import SourceInstance
from prodclone.errors import ProdcloneError

POINT_IN_TIME = "point-in-time"
LATEST_SNAPSHOT = "latest-snapshot"
NEW_SNAPSHOT = "new-snapshot"
ENV = "INVOKE_PRODCLONE_AWS_RESTORE_FROM"


@dataclass(frozen=True)
class Route:
    name: str  # POINT_IN_TIME | LATEST_SNAPSHOT | NEW_SNAPSHOT
    why: str
    data_age: str
    # The snapshot restored from, when it is not ours: an automated one (latest-snapshot).
    automated_snapshot: str = ""

    @property
    def new_snapshot(self) -> bool:
        return self.name == NEW_SNAPSHOT


def choose(
    source: SourceInstance,
    wanted: str,
    newest_automated: Callable[[], tuple[str, datetime] | None],
    now: datetime | None = None,
) -> Route:
    now = now or datetime.now(UTC)
    backups = source.backup_retention_days
    kept = f"{source.identifier} keeps {backups} day(s) of automated backups"
    if wanted == "auto":
        if backups > 0:
            return _point_in_time(source, now, f"auto: {kept}, so the source is not touched")
        return _new_snapshot(
            source,
            f"auto: {source.identifier} keeps no automated backups (retention 0), so a new "
            "snapshot is taken",
        )
    if wanted == POINT_IN_TIME:
        if backups == 0:
            raise ProdcloneError(
                f"prodclone.aws.restore_from is point-in-time, but {source.identifier} keeps "
                "no automated backups (retention 0); set it to new-snapshot or auto "
                f"({ENV})"
            )
        return _point_in_time(source, now, f"restore_from point-in-time; {kept}")
    if wanted == LATEST_SNAPSHOT:
        found = newest_automated()
        if found is None:
            raise ProdcloneError(
                f"prodclone.aws.restore_from is latest-snapshot, but {source.identifier} has no "
                f"available automated snapshot; set it to new-snapshot or auto ({ENV})"
            )
        snapshot_id, taken = found
        return Route(
            LATEST_SNAPSHOT,
            f"restore_from latest-snapshot: the newest automated snapshot {snapshot_id}; "
            "the source is not touched",
            f"as of {_when(taken)}, {_age(now, taken)} old",
            automated_snapshot=snapshot_id,
        )
    return _new_snapshot(source, "restore_from new-snapshot")


def _point_in_time(source: SourceInstance, now: datetime, why: str) -> Route:
    latest = source.latest_restorable
    how = "a copy-on-write clone" if source.kind == "cluster" else "a restore"
    if latest is None:
        age = "as of the latest restorable time (usually within 5 minutes of now)"
    else:
        age = (
            f"as of the latest restorable time, {_when(latest)} when checked "
            f"({_age(now, latest)} old; AWS keeps it within about 5 minutes of now)"
        )
    return Route(POINT_IN_TIME, f"{why}; {how} from the automated backups", age)


def _new_snapshot(source: SourceInstance, why: str) -> Route:
    effect = (
        "a cluster snapshot does not pause the cluster's I/O"
        if source.kind == "cluster"
        else "on a Single-AZ instance AWS suspends the source's I/O for a few seconds to "
        "minutes while the snapshot starts"
    )
    return Route(
        NEW_SNAPSHOT, f"{why}; {effect}", "as of the new snapshot, taken at the start of the run"
    )


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _age(now: datetime, then: datetime) -> str:
    minutes = max((now - then).total_seconds() / 60, 0.0)
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"
