"""The run's cloud resources, each a context manager that removes what it created.

A resource counts as created once its create call was sent: an interrupted call
may still have happened, so cleanup then looks for it for a while. A create
answered with an error code is looked for once by name and run tag: found, it is
removed; not found, AWS refused it and there is nothing to clean up.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.progress import TextColumn

from prodclone.aws import aurora, cost, rds, tunnels
from prodclone.aws.clients import error_code
from prodclone.aws.kinds import Observer
from prodclone.aws.polling import Observation, WaitPolicy
from prodclone.clone import leftovers
from prodclone.clone.cleanup import (
    Cleanup,
    delete_cluster_command,
    delete_cluster_snapshot_command,
    delete_instance_command,
    delete_snapshot_command,
)
from prodclone.clone.faults import checkpoint
from prodclone.clone.plan import ClonePlan
from prodclone.clone.report import Report
from prodclone.clone.target import CloneTarget

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

    from prodclone.aws.clients import AwsClients

# How long cleanup looks for a resource whose create call was sent but not answered.
APPEAR_GRACE_SECONDS = 120


@dataclass
class Resources:
    target: CloneTarget
    clients: AwsClients
    plan: ClonePlan
    report: Report
    cleanup: Cleanup
    deadline: float  # time.monotonic() by which every wait of the run must be over
    state_dir: Path | None = None  # where the open tunnel is recorded, for a killed run

    def _wait(self, seconds: float | None = None) -> WaitPolicy:
        remaining = max(self.deadline - time.monotonic(), 1.0) if seconds is None else seconds
        return WaitPolicy(remaining, self.target.poll_max_seconds)

    @contextlib.contextmanager
    def _created(
        self,
        what: str,
        create: Callable[[], None],
        made: Callable[[], bool],
        remove: Callable[[], None],
    ) -> Iterator[None]:
        """`create`, then the caller's block; `remove` afterwards unless AWS refused the create.

        An error answer is not proof that nothing was made: AWS may have carried the
        call out and still answered with an error, and a retry of a create that went
        through is answered "already exists". So after an error answer `made` looks
        once, by name and run tag, and what it finds is removed like anything else.
        """
        refused = False
        try:
            try:
                create()
            except Exception as exc:
                refused = bool(error_code(exc)) and not self._made_anyway(what, made)
                raise
            yield
        finally:
            if not refused:
                remove()

    def _made_anyway(self, what: str, made: Callable[[], bool]) -> bool:
        try:
            found = made()
        except Exception:
            return True  # cannot tell: cleanup looks for it, as for an unanswered call
        if found:
            self.report.line(f"    the create answered with an error, but {what} exists")
        return found

    def _remove(
        self, what: str, command: str, delete: Callable[[], str], exists: Callable[[], bool]
    ) -> None:
        """Delete through `cleanup`, which lists it with `command` if that fails; an absent
        resource is looked for a while, in case its create call is still on the way."""

        def attempt() -> str:
            outcome = delete()
            if outcome == "absent" and rds.appears(what, exists, self._wait(APPEAR_GRACE_SECONDS)):
                outcome = delete()  # its create was still on the way
            return outcome

        self.cleanup.attempt(what, command, attempt)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[str]:
        """A new snapshot of the source (the new-snapshot route): of the instance, or of
        the Aurora cluster."""
        plan, client, region = self.plan, self.clients.rds, self.clients.region
        what = (
            f"cluster snapshot {plan.snapshot_id}"
            if plan.aurora
            else f"snapshot {plan.snapshot_id}"
        )
        self.report.step(f"{what} of {plan.source.identifier}")
        api = aurora if plan.aurora else rds
        command = (
            delete_cluster_snapshot_command(plan.snapshot_id, region)
            if plan.aurora
            else delete_snapshot_command(plan.snapshot_id, region)
        )
        with self._created(
            what,
            lambda: api.create_snapshot(client, plan.source, plan.snapshot_id, plan.tags),
            lambda: api.snapshot_is_ours(client, plan.snapshot_id, plan.run),
            lambda: self._remove(
                what,
                command,
                lambda: api.delete_snapshot(
                    client, plan.snapshot_id, plan.run, self._wait(rds.DELETE_WAIT_SECONDS)
                ),
                lambda: api.snapshot_exists(client, plan.snapshot_id),
            ),
        ):
            checkpoint("snapshot")
            self._wait_snapshot_with_progress(api.wait_snapshot)
            checkpoint("snapshot-ready")
            yield plan.snapshot_id

    def _wait_snapshot_with_progress(
        self, wait_snapshot: Callable[[RDSClient, str, WaitPolicy, Observer], None]
    ) -> None:
        observe = self.report.observer(f"snapshot {self.plan.snapshot_id}")
        with self.report.progress("snapshot", TextColumn("{task.percentage:>3.0f}%")) as progress:
            bar = progress.add_task("snapshot", total=100)

            def show(seen: Observation, elapsed: float) -> None:
                observe(seen, elapsed)
                with contextlib.suppress(ValueError):
                    progress.update(bar, completed=float(seen.detail.rstrip("%") or 0))

            wait_snapshot(self.clients.rds, self.plan.snapshot_id, self._wait(), show)

    @contextlib.contextmanager
    def cluster(self) -> Iterator[str]:
        """The Aurora clone: copy-on-write from the source, or restored from a snapshot."""
        plan, client = self.plan, self.clients.rds
        if plan.restore_snapshot:
            self.report.step(f"cluster {plan.cluster_id} from {plan.restore_snapshot}")
        else:
            self.report.step(
                f"cluster {plan.cluster_id}: copy-on-write clone of {plan.source.identifier}"
            )

        def create() -> None:
            if plan.restore_snapshot:
                aurora.restore_cluster(
                    client,
                    cluster_id=plan.cluster_id,
                    snapshot_id=plan.restore_snapshot,
                    subnet_group=plan.subnet_group,
                    security_groups=plan.security_groups,
                    tags=plan.tags,
                )
            else:
                aurora.clone_cluster(
                    client,
                    cluster_id=plan.cluster_id,
                    source=plan.source,
                    subnet_group=plan.subnet_group,
                    security_groups=plan.security_groups,
                    tags=plan.tags,
                )

        with self._created(
            f"cluster {plan.cluster_id}",
            create,
            lambda: aurora.cluster_is_ours(client, plan.cluster_id, plan.run),
            (lambda: None) if plan.keep_instance else self._remove_cluster,
        ):
            checkpoint("cluster")
            with self.report.waiting(f"cluster {plan.cluster_id}") as observe:
                aurora.wait_cluster(client, plan.cluster_id, self._wait(), observe)
            checkpoint("cluster-ready")
            yield plan.cluster_id

    def _remove_cluster(self) -> None:
        plan, client = self.plan, self.clients.rds
        self._remove(
            f"cluster {plan.cluster_id}",
            delete_cluster_command(plan.cluster_id, self.clients.region),
            lambda: aurora.delete_cluster_when_possible(
                client, plan.cluster_id, plan.run, self._wait(rds.DELETE_WAIT_SECONDS)
            ),
            lambda: aurora.cluster_exists(client, plan.cluster_id),
        )

    def _create_instance(self) -> None:
        plan, client = self.plan, self.clients.rds
        if plan.aurora:
            rds.create_cluster_instance(
                client,
                instance_id=plan.instance_id,
                cluster_id=plan.cluster_id,
                instance_class=plan.instance_class,
                tags=plan.tags,
            )
        elif plan.restore_snapshot:
            rds.restore_instance(
                client,
                instance_id=plan.instance_id,
                snapshot_id=plan.restore_snapshot,
                instance_class=plan.instance_class,
                subnet_group=plan.subnet_group,
                security_groups=plan.security_groups,
                tags=plan.tags,
            )
        else:
            rds.restore_instance_to_latest_time(
                client,
                instance_id=plan.instance_id,
                source=plan.source,
                instance_class=plan.instance_class,
                subnet_group=plan.subnet_group,
                security_groups=plan.security_groups,
                tags=plan.tags,
            )

    @contextlib.contextmanager
    def instance(self) -> Iterator[rds.Endpoint]:
        plan, client = self.plan, self.clients.rds
        if plan.aurora:
            self.report.step(
                f"instance {plan.instance_id} ({plan.instance_class}) in {plan.cluster_id}"
            )
        elif plan.restore_snapshot:
            self.report.step(
                f"restore {plan.instance_id} ({plan.instance_class}) from {plan.restore_snapshot}"
            )
        else:
            self.report.step(
                f"restore {plan.instance_id} ({plan.instance_class}) from the automated backups "
                f"of {plan.source.identifier}, latest restorable time"
            )
        with self._created(
            f"instance {plan.instance_id}",
            self._create_instance,
            lambda: rds.instance_is_ours(client, plan.instance_id, plan.run),
            self._announce_kept if plan.keep_instance else self._remove_instance,
        ):
            checkpoint("instance")
            with self.report.waiting(f"instance {plan.instance_id}") as observe:
                endpoint = rds.wait_instance(client, plan.instance_id, self._wait(), observe)
            checkpoint("instance-ready")
            yield endpoint

    def _remove_instance(self) -> None:
        plan, client = self.plan, self.clients.rds
        self._remove(
            f"instance {plan.instance_id}",
            delete_instance_command(plan.instance_id, self.clients.region, plan.aurora),
            lambda: rds.delete_instance_when_possible(
                client, plan.instance_id, plan.run, self._wait(rds.DELETE_WAIT_SECONDS)
            ),
            lambda: rds.instance_exists(client, plan.instance_id),
        )

    def _announce_kept(self) -> None:
        plan, region = self.plan, self.clients.region
        hourly = cost.instance_hourly(plan.instance_class, plan.source.allocated_gb)
        if plan.aurora:
            kept = f"instance {plan.instance_id} and cluster {plan.cluster_id}"
            removal = (
                f"  {delete_instance_command(plan.instance_id, region, plan.aurora)}\n"
                f"  then {delete_cluster_command(plan.cluster_id, region)}\n"
            )
            managed = (
                f"`aws rds modify-db-cluster --db-cluster-identifier {plan.cluster_id} "
                "--manage-master-user-password --apply-immediately`"
            )
        else:
            kept = f"instance {plan.instance_id}"
            removal = f"  {delete_instance_command(plan.instance_id, region, plan.aurora)}\n"
            managed = (
                f"`aws rds modify-db-instance --db-instance-identifier {plan.instance_id} "
                "--manage-master-user-password --apply-immediately`"
            )
        print(
            f"prodclone: KEPT {kept} (--keep-instance); it costs about "
            f"${hourly:.3f}/hour until removed with:\n"
            f"{removal}"
            "  or: inv db.list-clones --delete (once it has expired). Its master password "
            f"was random and is gone: to connect, give it a managed one with {managed}",
            file=sys.stderr,
        )

    def new_password(self) -> tuple[str, rds.Endpoint]:
        """A random master password on the copy, set and applied; never shown."""
        plan, client = self.plan, self.clients.rds
        password = secrets.token_urlsafe(24)
        if plan.aurora:
            # Aurora keeps the master password on the cluster, not on its instances.
            self.report.step(f"new master password for {plan.cluster_id} (never shown)")
            aurora.set_master_password(client, plan.cluster_id, plan.run, password)
            with self.report.waiting(f"cluster {plan.cluster_id}") as observe:
                aurora.wait_cluster(
                    client, plan.cluster_id, self._wait(), observe, no_pending_password=True
                )
        else:
            self.report.step(f"new master password for {plan.instance_id} (never shown)")
            rds.set_master_password(client, plan.instance_id, plan.run, password)
        with self.report.waiting(f"instance {plan.instance_id}") as observe:
            ready = rds.wait_instance(
                client, plan.instance_id, self._wait(), observe, no_pending_password=True
            )
        checkpoint("password")
        return password, ready

    def tunnel(self, endpoint: rds.Endpoint) -> contextlib.AbstractContextManager[tunnels.LocalEnd]:
        aws, plan = self.target, self.plan
        self.report.step(f"tunnel ({plan.tunnel}) to {plan.instance_id}")
        if plan.tunnel == "ssm":
            return self._recorded(
                lambda started: tunnels.ssm_tunnel(
                    self.clients.ssm,
                    plugin=aws.ssm_plugin,
                    bastion=aws.bastion,
                    remote_host=endpoint.host,
                    remote_port=endpoint.port,
                    local_port=plan.local_port,
                    region=self.clients.region,
                    profile=self.clients.profile,
                    ready_seconds=aws.tunnel_ready_seconds,
                    on_started=started,
                )
            )
        if plan.tunnel == "ssh":
            return tunnels.ssh_tunnel(
                aws.bastion,
                remote_host=endpoint.host,
                remote_port=endpoint.port,
                local_port=plan.local_port,
                ready_seconds=aws.tunnel_ready_seconds,
            )
        return tunnels.direct(endpoint.host, endpoint.port)

    @contextlib.contextmanager
    def _recorded(
        self,
        tunnel: Callable[
            [Callable[[str, int], None]], contextlib.AbstractContextManager[tunnels.LocalEnd]
        ],
    ) -> Iterator[tunnels.LocalEnd]:
        """The SSM tunnel, recorded on disk while open so a killed run's can be ended later."""
        records: list[Path] = []

        def started(session_id: str, plugin_pid: int) -> None:
            if self.state_dir is None:
                return
            with contextlib.suppress(OSError):  # a record is a help, never a reason to fail
                records.append(
                    leftovers.record_tunnel(self.state_dir, self.plan.run, session_id, plugin_pid)
                )

        try:
            with tunnel(started) as end:
                yield end
        finally:
            for record in records:
                record.unlink(missing_ok=True)
