"""One clone run: snapshot -> throwaway instance -> password -> tunnel -> pg_dump -> cleanup.

The resources stack in an ExitStack whose unwinding (on success, any error,
Ctrl-C, or SIGTERM turned into Ctrl-C) is shielded from further signals.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from prodclone import dumps
from prodclone.aws.signals import shielded, sigterm_interrupts
from prodclone.clone.cleanup import Cleanup
from prodclone.clone.dump import dump_database, partial_path
from prodclone.clone.faults import checkpoint
from prodclone.clone.plan import CloneOptions, ClonePlan
from prodclone.clone.report import Report
from prodclone.clone.resources import Resources
from prodclone.errors import ProdcloneError
from prodclone.settings import Settings

if TYPE_CHECKING:
    from prodclone.aws.clients import AwsClients


def run_clone(
    settings: Settings,
    clients: AwsClients,
    plan: ClonePlan,
    options: CloneOptions,
    console: Console,
) -> Path:
    """Create, dump, remove; returns the finished dump. Cleanup always runs."""
    report = Report(console)
    cleanup = Cleanup(report)
    deadline = time.monotonic() + settings.aws.timeout_minutes * 60
    cloud = Resources(settings.aws, clients, plan, report, cleanup, deadline)
    if options.out is None:  # --out names a place of the user's choosing: leave it as it is
        for notice in dumps.prepare_dump_dir(plan.dump_path.parent, settings.project_dir):
            report.line(f"    {notice}")
    resources = contextlib.ExitStack()
    try:
        with sigterm_interrupts():
            try:
                resources.enter_context(cloud.snapshot())
                resources.enter_context(cloud.instance())
                password, endpoint = cloud.new_password()
                end = resources.enter_context(cloud.tunnel(endpoint))
                checkpoint("tunnel")
                partial = resources.enter_context(partial_path(plan.dump_path))
                dump_database(
                    plan,
                    end,
                    endpoint.master_username,
                    password,
                    partial,
                    report,
                    on_started=lambda: checkpoint("dump"),
                )
                checkpoint("verify")
                info = dumps.check_dump(partial, plan.pg_restore)
                os.replace(partial, plan.dump_path)
            finally:
                report.step("cleanup")
                with shielded():
                    checkpoint("cleanup")
                    resources.close()
    finally:
        cleanup.summary(sys.stderr)
    if cleanup.left:
        raise ProdcloneError(
            f"the dump {plan.dump_path} is complete, but cleanup left resources behind (above)"
        )
    report.line(
        f"dump ready: {plan.dump_path} ({info.size_bytes / 1024**2:.1f} MiB, {info.items} items)"
    )
    return plan.dump_path
