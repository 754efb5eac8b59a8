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

from prodclone.aws import cost, rds, tunnels
from prodclone.aws.clients import error_code
from prodclone.aws.polling import Observation, WaitPolicy
from prodclone.clone import leftovers
from prodclone.clone.cleanup import Cleanup, delete_instance_command, delete_snapshot_command
from prodclone.clone.faults import checkpoint
from prodclone.clone.plan import ClonePlan
from prodclone.clone.report import Report
from prodclone.settings import AwsSettings

if TYPE_CHECKING:
    from prodclone.aws.clients import AwsClients

# How long cleanup looks for a resource whose create call was sent but not answered.
APPEAR_GRACE_SECONDS = 120


@dataclass
class Resources:
    aws: AwsSettings
    clients: AwsClients
    plan: ClonePlan
    report: Report
    cleanup: Cleanup
    deadline: float  # time.monotonic() by which every wait of the run must be over
    state_dir: Path | None = None  # where the open tunnel is recorded, for a killed run

    def _wait(self, seconds: float | None = None) -> WaitPolicy:
        remaining = max(self.deadline - time.monotonic(), 1.0) if seconds is None else seconds
        return WaitPolicy(remaining, self.aws.poll_max_seconds)

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
        plan, client, region = self.plan, self.clients.rds, self.clients.region
        self.report.step(f"snapshot {plan.snapshot_id} of {plan.source.identifier}")
        with self._created(
            f"snapshot {plan.snapshot_id}",
            lambda: rds.create_snapshot(client, plan.source, plan.snapshot_id, plan.tags),
            lambda: rds.snapshot_is_ours(client, plan.snapshot_id, plan.run),
            lambda: self._remove(
                f"snapshot {plan.snapshot_id}",
                delete_snapshot_command(plan.snapshot_id, region),
                lambda: rds.delete_snapshot(
                    client, plan.snapshot_id, plan.run, self._wait(rds.DELETE_WAIT_SECONDS)
                ),
                lambda: rds.snapshot_exists(client, plan.snapshot_id),
            ),
        ):
            checkpoint("snapshot")
            self._wait_snapshot_with_progress()
            checkpoint("snapshot-ready")
            yield plan.snapshot_id

    def _wait_snapshot_with_progress(self) -> None:
        observe = self.report.observer(f"snapshot {self.plan.snapshot_id}")
        with self.report.progress("snapshot", TextColumn("{task.percentage:>3.0f}%")) as progress:
            bar = progress.add_task("snapshot", total=100)

            def show(seen: Observation, elapsed: float) -> None:
                observe(seen, elapsed)
                with contextlib.suppress(ValueError):
                    progress.update(bar, completed=float(seen.detail.rstrip("%") or 0))

            rds.wait_snapshot(self.clients.rds, self.plan.snapshot_id, self._wait(), show)

    @contextlib.contextmanager
    def instance(self) -> Iterator[rds.Endpoint]:
        plan, client = self.plan, self.clients.rds
        self.report.step(f"restore {plan.instance_id} ({plan.instance_class})")
        with self._created(
            f"instance {plan.instance_id}",
            lambda: rds.restore_instance(
                client,
                instance_id=plan.instance_id,
                snapshot_id=plan.snapshot_id,
                instance_class=plan.instance_class,
                subnet_group=plan.subnet_group,
                security_groups=plan.security_groups,
                tags=plan.tags,
            ),
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
            delete_instance_command(plan.instance_id, self.clients.region),
            lambda: rds.delete_instance_when_possible(
                client, plan.instance_id, plan.run, self._wait(rds.DELETE_WAIT_SECONDS)
            ),
            lambda: rds.instance_exists(client, plan.instance_id),
        )

    def _announce_kept(self) -> None:
        plan = self.plan
        hourly = cost.instance_hourly(plan.instance_class, plan.source.allocated_gb)
        print(
            f"prodclone: KEPT instance {plan.instance_id} (--keep-instance); it costs about "
            f"${hourly:.3f}/hour until removed with:\n"
            f"  {delete_instance_command(plan.instance_id, self.clients.region)}\n"
            "  or: inv db.list-clones --delete (once it has expired). Its master password "
            "was random and is gone: to connect, give it a managed one with "
            f"`aws rds modify-db-instance --db-instance-identifier {plan.instance_id} "
            "--manage-master-user-password --apply-immediately`",
            file=sys.stderr,
        )

    def new_password(self) -> tuple[str, rds.Endpoint]:
        """A random master password on the copy, set and applied; never shown."""
        plan, client = self.plan, self.clients.rds
        self.report.step(f"new master password for {plan.instance_id} (never shown)")
        password = secrets.token_urlsafe(24)
        rds.set_master_password(client, plan.instance_id, plan.run, password)
        with self.report.waiting(f"instance {plan.instance_id}") as observe:
            ready = rds.wait_instance(
                client, plan.instance_id, self._wait(), observe, no_pending_password=True
            )
        checkpoint("password")
        return password, ready

    def tunnel(self, endpoint: rds.Endpoint) -> contextlib.AbstractContextManager[tunnels.LocalEnd]:
        aws, plan = self.aws, self.plan
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
