"""Preflight and the plan: everything checked, and shown, before anything is created."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from prodclone.aws import aurora, cost, rds, tags, tunnels
from prodclone.clone import route as routes
from prodclone.clone.route import Route
from prodclone.clone.target import CloneTarget
from prodclone.errors import ProdcloneError
from prodclone.pg import dumps
from prodclone.pg.tools import ClientTool, find_tool

if TYPE_CHECKING:
    from prodclone.aws.clients import AwsClients

# A kept instance stays out of `db.list-clones`' strays for this long.
KEEP_HOURS = 24
# Expiry tags leave this much room after the run's own deadline before a resource is a stray;
# while the run lives, its heartbeat keeps the tags at least this far ahead of now.
EXPIRY_MARGIN_MINUTES = 30


@dataclass(frozen=True)
class CloneOptions:
    dry_run: bool = False
    keep_instance: bool = False
    jobs: int = 1
    out: Path | None = None
    yes: bool = False

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise ProdcloneError(f"--jobs must be at least 1 (got {self.jobs})")


@dataclass(frozen=True)
class ClonePlan:
    run: str
    source: rds.SourceInstance
    route: Route
    snapshot_id: str  # ours, made only on the new-snapshot route
    cluster_id: str  # the cloned Aurora cluster; "" when the source is an instance
    instance_id: str
    instance_class: str
    subnet_group: str
    security_groups: tuple[str, ...]
    database: str
    tags: list[dict[str, str]] = field(hash=False)
    dump_path: Path
    jobs: int
    compression: str
    pg_dump: ClientTool
    pg_restore: ClientTool
    local_port: int
    tunnel: str
    keep_instance: bool
    expires_at: datetime  # what the tags say at the start; the heartbeat never moves it back
    estimate_usd: float
    usual_minutes: float

    @property
    def aurora(self) -> bool:
        return bool(self.cluster_id)

    @property
    def restore_snapshot(self) -> str:
        """The snapshot the copy is restored from: ours, AWS's newest automated one, or
        none (point in time)."""
        return self.snapshot_id if self.route.new_snapshot else self.route.automated_snapshot

    def made(self) -> list[tuple[str, str]]:
        """(kind, id) of everything this run creates."""
        snapshot = "cluster-snapshot" if self.aurora else "snapshot"
        found = [(snapshot, self.snapshot_id)] if self.route.new_snapshot else []
        if self.aurora:
            found.append(("cluster", self.cluster_id))
        return [*found, ("instance", self.instance_id)]


def preflight(
    aws: CloneTarget, dump_dir: Path, clients: AwsClients, options: CloneOptions
) -> ClonePlan:
    """Everything that can be checked before anything is created; raises on the first problem.

    The dump goes to `options.out`, or to a new `prod-<timestamp>.dump` in `dump_dir`.
    """
    if aws.source_cluster:
        source = aurora.describe_cluster_source(clients.rds, aws.source_cluster)
        newest = functools.partial(aurora.newest_automated_snapshot, clients.rds, source.identifier)
    else:
        source = rds.describe_source(clients.rds, aws.source_instance)
        newest = functools.partial(rds.newest_automated_snapshot, clients.rds, source.identifier)
    route = routes.choose(source, aws.restore_from, newest)
    run = tags.new_run_id()
    name = throwaway_name(run, source.identifier)
    local_port = aws.local_port or tunnels.free_port()
    _check_tunnel_needs(aws, local_port)
    extra = _bin_dirs()
    pg_dump = find_tool("pg_dump", source.major, extra)
    pg_restore = find_tool("pg_restore", pg_dump.major, (pg_dump.path.parent, *extra))
    if aws.dump_compression:
        _check_compression(pg_dump, aws.dump_compression)
    dump_path = options.out.resolve() if options.out else dumps.new_dump_path(dump_dir)
    if options.out and not dump_path.parent.is_dir():
        raise ProdcloneError(f"--out {options.out}: folder {dump_path.parent} does not exist")
    if dump_path.exists():
        raise ProdcloneError(f"{dump_path} already exists; choose another --out")
    _check_dump_folder(dump_path.parent, source.allocated_gb)
    expires = tags.expiry(
        aws.timeout_minutes
        + EXPIRY_MARGIN_MINUTES
        + (KEEP_HOURS * 60 if options.keep_instance else 0)
    )
    return ClonePlan(
        run=run,
        source=source,
        route=route,
        snapshot_id=name,
        cluster_id=name if source.kind == "cluster" else "",
        instance_id=name,
        instance_class=aws.instance_class,
        subnet_group=aws.subnet_group or source.subnet_group,
        security_groups=aws.security_groups or source.security_groups,
        database=aws.database or source.db_name or "postgres",
        tags=tags.make_tags(
            run, clients.caller_arn, source.identifier, expires, keep=options.keep_instance
        ),
        dump_path=dump_path,
        jobs=options.jobs,
        compression=aws.dump_compression,
        pg_dump=pg_dump,
        pg_restore=pg_restore,
        local_port=local_port,
        tunnel=aws.tunnel,
        keep_instance=options.keep_instance,
        expires_at=expires,
        estimate_usd=cost.run_estimate(aws.instance_class, source.allocated_gb, route.new_snapshot),
        usual_minutes=cost.usual_minutes(source.allocated_gb, route.new_snapshot),
    )


def throwaway_name(run: str, source_identifier: str) -> str:
    """The snapshot's and the instance's id; never the source's, whatever the run id."""
    name = tags.resource_name(run)
    if name == source_identifier:
        raise ProdcloneError(f"the throwaway id {name} equals the source's; refusing")
    return name


def _check_tunnel_needs(aws: CloneTarget, local_port: int) -> None:
    if aws.tunnel == "ssm":
        tunnels.find_plugin(aws.ssm_plugin)
        if not aws.bastion:
            raise ProdcloneError(
                "prodclone.aws.bastion is not set: with tunnel ssm it must be the EC2 instance "
                "id of a bastion running the SSM agent (INVOKE_PRODCLONE_AWS_BASTION)"
            )
    if aws.tunnel == "ssh" and not aws.bastion:
        raise ProdcloneError(tunnels.SSH_BASTION_MISSING)
    if aws.tunnel != "direct":
        tunnels.check_port_free(local_port)


def _bin_dirs() -> tuple[Path, ...]:
    from prodclone.local.embedded import bin_dir

    return (bin_dir(),)


def _check_compression(pg_dump: ClientTool, compression: str) -> None:
    """pg_dump checks --compress before connecting; a dead address makes that a cheap probe."""
    probe = subprocess.run(
        [
            str(pg_dump.path),
            f"--compress={compression}",
            "--format=custom",
            "--file=/dev/null",
            "--no-password",
            "--dbname=postgresql://127.0.0.1:1/probe?connect_timeout=1",
        ],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=30,
        check=False,
    )
    if "compression" in probe.stderr:
        reason = probe.stderr.strip().splitlines()[-1].removeprefix("pg_dump: error: ")
        raise ProdcloneError(
            f"prodclone.aws.dump_compression {compression!r} does not work with "
            f"{pg_dump.path}: {reason}; choose gzip:N or another method this pg_dump supports"
        )


def _check_dump_folder(folder: Path, allocated_gb: int) -> None:
    """The folder (or the nearest one that exists, where it will be made) is writable and
    has room for a dump as large as the source's allocated storage."""
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise ProdcloneError(
            f"cannot write the dump in {folder}: {probe} is not a writable folder; "
            "fix its permissions or point prodclone.dump_dir (or --out) elsewhere"
        )
    free = shutil.disk_usage(probe).free
    if free < allocated_gb * 1024**3:
        raise ProdcloneError(
            f"not enough free disk for the dump in {folder}: {free / 1024**3:.1f} GiB free, "
            f"the source has {allocated_gb} GiB allocated; free space or point "
            "prodclone.dump_dir (or --out) at a larger disk"
        )


def render_plan(plan: ClonePlan, region: str) -> list[str]:
    tag_text = ", ".join(f"{t['Key']}={t['Value']}" for t in plan.tags)
    fmt = f"directory format, {plan.jobs} jobs" if plan.jobs > 1 else "custom format"
    compression = plan.compression or "pg_dump default"
    afterwards = (
        "KEPT afterwards (--keep-instance), costing money until removed"
        if plan.keep_instance
        else "deleted at the end"
    )
    source, route = plan.source, plan.route
    kind = "Aurora cluster" if plan.aurora else "instance"
    size = "" if plan.aurora else f", {source.allocated_gb} GiB"
    touched = "read only, one snapshot taken" if route.new_snapshot else "not touched"
    lines = [
        f"Plan for run {plan.run} (region {region}):",
        f"  source     {kind} {source.identifier} (PostgreSQL {source.engine_version}{size}): "
        f"{touched}",
        f"  route      {route.name}: {route.why}",
        f"  data       {route.data_age}",
    ]
    if route.new_snapshot:
        what = "cluster snapshot" if plan.aurora else "snapshot"
        lines.append(f"  snapshot   {plan.snapshot_id} ({what}, manual, deleted at the end)")
    elif route.automated_snapshot:
        lines.append(
            f"  snapshot   {route.automated_snapshot} (automated, AWS's own; left as it is)"
        )
    network = (
        f"subnet group {plan.subnet_group or 'default'}, security groups "
        f"{', '.join(plan.security_groups) or 'default'}"
    )
    if plan.aurora:
        how = "copy-on-write clone" if route.name == routes.POINT_IN_TIME else "restored"
        lines.append(
            f"  cluster    {plan.cluster_id} ({how}, {network}; deleted at the end, "
            "no final snapshot)"
        )
        lines.append(
            f"  instance   {plan.instance_id} ({plan.instance_class}, in {plan.cluster_id}, "
            f"not public; {afterwards})"
        )
    else:
        lines.append(
            f"  instance   {plan.instance_id} ({plan.instance_class}, not public, single-AZ, "
            f"no backups, {network}; {afterwards})"
        )
    lines += [
        f"  tags       {tag_text}",
        "  tunnel     direct (the instance's endpoint as it is)"
        if plan.tunnel == "direct"
        else f"  tunnel     {plan.tunnel}, local port {plan.local_port}",
        f"  dump       database {plan.database!r} -> {plan.dump_path} ({fmt}, "
        f"compression {compression}, {plan.pg_dump.path.name} {plan.pg_dump.major})",
        f"  estimate   about ${plan.estimate_usd:.2f}, usually {plan.usual_minutes:.0f} minutes"
        f" ({_cost_note(plan)})",
    ]
    return lines


def _cost_note(plan: ClonePlan) -> str:
    if plan.aurora and plan.route.name == routes.POINT_IN_TIME:
        return "instance hours; the clone's storage costs only for pages that change"
    if plan.route.new_snapshot:
        return "instance hours and the snapshot's storage while it lives"
    return "instance hours; the automated backups are already paid for"
