"""One clone run: snapshot -> throwaway instance -> password -> tunnel -> mask -> pg_dump ->
cleanup.

The resources stack in an ExitStack whose unwinding (on success, any error,
Ctrl-C, or SIGTERM, SIGHUP or SIGQUIT turned into Ctrl-C) is shielded from
further signals from its first line.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from prodclone.clone.cleanup import Cleanup
from prodclone.clone.dump import dump_database, partial_path, pgpass_dir
from prodclone.clone.faults import checkpoint
from prodclone.clone.heartbeat import Heartbeat, beat_seconds
from prodclone.clone.masking import mask_throwaway, record_dump
from prodclone.clone.plan import CloneOptions, ClonePlan
from prodclone.clone.report import Report
from prodclone.clone.resources import Resources
from prodclone.clone.stack import enter
from prodclone.clone.target import CloneTarget
from prodclone.errors import ProdcloneError
from prodclone.guard.signals import shielded, signals_interrupt
from prodclone.local.paths import Paths
from prodclone.mask.policy import MaskPolicy
from prodclone.pg import dumps

if TYPE_CHECKING:
    from prodclone.aws.clients import AwsClients


def run_clone(
    target: CloneTarget,
    paths: Paths,
    masking: MaskPolicy,
    clients: AwsClients,
    plan: ClonePlan,
    options: CloneOptions,
    console: Console,
) -> Path:
    """Create, dump, remove; returns the finished dump. Cleanup always runs."""
    report = Report(console)
    cleanup = Cleanup(report)
    deadline = time.monotonic() + target.timeout_minutes * 60
    passwords = pgpass_dir(paths.state)
    cloud = Resources(target, clients, plan, report, cleanup, deadline, state_dir=passwords)
    if options.out is None:  # --out names a place of the user's choosing: leave it as it is
        for notice in dumps.prepare_dump_dir(plan.dump_path.parent, paths.project):
            report.line(f"    {notice}")
    resources = contextlib.ExitStack()
    heartbeat = Heartbeat(clients.rds, plan, beat_seconds(target.poll_max_seconds))
    with signals_interrupt():
        try:
            heartbeat.start()
            if plan.route.new_snapshot:
                enter(resources, cloud.snapshot())
            if plan.aurora:
                enter(resources, cloud.cluster())
            enter(resources, cloud.instance())
            password, endpoint = cloud.new_password()
            end = enter(resources, cloud.tunnel(endpoint))
            checkpoint("tunnel")
            masked = mask_throwaway(
                masking, plan.database, end, endpoint.master_username, password, report, passwords
            )
            partial = enter(resources, partial_path(plan.dump_path))
            dump_database(
                plan,
                end,
                endpoint.master_username,
                password,
                partial,
                report,
                passwords,
                on_started=lambda: checkpoint("dump"),
            )
            checkpoint("verify")
            info = dumps.check_dump(partial, plan.pg_restore)
            os.replace(partial, plan.dump_path)
            record_dump(plan.dump_path, masked, masking.rules)
        finally:
            # Shielded from the first line: after a signal, the first one already marked
            # the run interrupted before it raised, so a second one only prints.
            with shielded():
                checkpoint("teardown")
                report.step("cleanup")
                checkpoint("cleanup")
                heartbeat.stop()  # before any removal: nothing re-tags what is being deleted
                resources.close()
                with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
                    cleanup.summary(sys.stderr)
    if cleanup.left:
        raise ProdcloneError(
            f"the dump {plan.dump_path} is complete, but cleanup left resources behind (above)"
        )
    report.line(
        f"dump ready: {plan.dump_path} ({info.size_bytes / 1024**2:.1f} MiB, {info.items} items)"
    )
    return plan.dump_path
