"""A snapshot takes a while: its progress is shown, and cleanup waits for it before deleting.

moto finishes snapshots at once; here (moto runs in this process) each one stays
`creating` for four looks, and, as RDS does, cannot be deleted until it is done.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.aws.conftest import Cloud
from tests.conftest import Project

LOOKS = 4


@pytest.fixture
def slow_snapshots(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import RDSBackend
    from moto.rds.responses import RDSResponse

    taking: list[list[Any]] = []  # [snapshot, looks left] for each one being taken
    original_create = RDSBackend.create_db_snapshot
    original_describe = RDSResponse.describe_db_snapshots
    original_delete = RDSBackend.delete_db_snapshot

    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        snapshot: Any = original_create(self, *args, **kwargs)
        if snapshot.snapshot_type == "manual":  # moto's automated ones stay as they are
            snapshot.status, snapshot.percent_progress = "creating", 0
            taking.append([snapshot, LOOKS])
        return snapshot

    def describe(self: Any) -> Any:
        for entry in taking:
            snapshot, looks = entry
            if snapshot.status == "creating":
                entry[1] = looks - 1
                snapshot.percent_progress = 100 * (LOOKS - entry[1]) // LOOKS
                if entry[1] == 0:
                    snapshot.status = "available"
        return original_describe(self)

    def delete(self: Any, identifier: str) -> Any:
        snapshot = self.database_snapshots.get(identifier)
        if snapshot is not None and snapshot.status == "creating":
            raise RDSClientError(
                "InvalidDBSnapshotState", "Cannot delete the snapshot while it is being created"
            )
        return original_delete(self, identifier)

    monkeypatch.setattr(RDSBackend, "create_db_snapshot", create)
    monkeypatch.setattr(RDSResponse, "describe_db_snapshots", describe)
    monkeypatch.setattr(RDSBackend, "delete_db_snapshot", delete)


def test_snapshot_progress_is_shown(
    clone_project: Project, cloud: Cloud, slow_snapshots: None
) -> None:
    result = clone_project.run("db.clone-prod", "--yes", env=cloud.env)
    assert result.returncode == 0, result.stderr
    # Without a terminal there is no bar: each change is a line with the elapsed time.
    shown = re.findall(r"^    snapshot prodclone-[\w-]+: (.+) \(\d+s\)$", result.stdout, re.M)
    assert shown == ["creating 25%", "creating 50%", "creating 75%", "available 100%"]
    assert cloud.snapshots() == []


def test_cleanup_waits_for_a_snapshot_still_being_taken(
    clone_project: Project, cloud: Cloud, slow_snapshots: None
) -> None:
    env = {**cloud.env, "PRODCLONE_TEST_FAULT": "snapshot"}
    result = clone_project.run("db.clone-prod", "--yes", env=env)
    assert "injected failure at step snapshot" in result.stderr
    assert "CLEANUP FAILED" not in result.stderr
    assert cloud.snapshots() == []
