"""Teardown bookkeeping: each removal runs shielded from signals; what failed is listed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from prodclone.clone.report import Report
from prodclone.guard.signals import shielded


def delete_instance_command(instance_id: str, region: str, in_cluster: bool = False) -> str:
    # An Aurora member has no automated backups of its own: its cluster keeps them.
    backups = "" if in_cluster else " --delete-automated-backups"
    return (
        f"aws rds delete-db-instance --region {region} --db-instance-identifier {instance_id} "
        f"--skip-final-snapshot{backups}"
    )


def delete_snapshot_command(snapshot_id: str, region: str) -> str:
    return f"aws rds delete-db-snapshot --region {region} --db-snapshot-identifier {snapshot_id}"


def delete_cluster_command(cluster_id: str, region: str) -> str:
    return (
        f"aws rds delete-db-cluster --region {region} --db-cluster-identifier {cluster_id} "
        "--skip-final-snapshot"
    )


def delete_cluster_snapshot_command(snapshot_id: str, region: str) -> str:
    return (
        f"aws rds delete-db-cluster-snapshot --region {region} "
        f"--db-cluster-snapshot-identifier {snapshot_id}"
    )


class Cleanup:
    def __init__(self, report: Report) -> None:
        self.report = report
        self.left: list[tuple[str, str, str]] = []  # (what, removal command, why it failed)

    def attempt(self, what: str, command: str, action: Callable[[], str]) -> None:
        """Run one removal; a failure is remembered, not raised, so the others still run."""
        with shielded():
            try:
                outcome = action()
            except Exception as exc:
                self.left.append((what, command, str(exc).splitlines()[0] if str(exc) else ""))
                return
            self.report.line(f"    cleanup: {what}: {outcome}")

    def summary(self, out: TextIO) -> None:
        if not self.left:
            return
        print("prodclone: CLEANUP FAILED; these were left behind:", file=out)
        for what, command, reason in self.left:
            print(f"  {what} ({reason})", file=out)
            print(f"    remove with: {command}", file=out)
        print("  or run: inv db.list-clones --delete", file=out)
