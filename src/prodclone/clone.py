"""The clone pipeline: prod RDS -> snapshot -> throwaway instance -> tunnel -> pg_dump.

Every cloud resource is a context manager whose teardown runs in `finally`
(shielded from a second Ctrl-C), stacked with an ExitStack; what could not be
removed is printed with the command that removes it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from prodclone import dumps
from prodclone.aws import cost, rds, tags, tunnels
from prodclone.aws.clients import error_code
from prodclone.aws.polling import Observation
from prodclone.aws.signals import shielded, sigterm_interrupts
from prodclone.errors import ProdcloneError
from prodclone.local.tools import ClientTool, find_tool
from prodclone.settings import Settings

if TYPE_CHECKING:
    from prodclone.aws.clients import AwsClients

# Test-only hook, unset in normal use: comma-separated "<step>[:mode]" entries; no mode
# raises at that step boundary, "pause" sleeps there until a signal arrives, "slow"
# sleeps a few seconds and goes on. The fault tests drive the pipeline with it.
TEST_FAULT_ENV = "PRODCLONE_TEST_FAULT"
STEPS = (
    "snapshot",
    "snapshot-ready",
    "instance",
    "instance-ready",
    "password",
    "tunnel",
    "dump",
    "verify",
)
# How long cleanup may wait (for a snapshot still being taken, say).
CLEANUP_TIMEOUT_SECONDS = 45 * 60
# How long cleanup looks for a resource whose create call was sent but not answered.
APPEAR_GRACE_SECONDS = 120
KEEP_HOURS = 24
EXPIRY_MARGIN_MINUTES = 30


def checkpoint(step: str) -> None:
    for entry in os.environ.get(TEST_FAULT_ENV, "").split(","):
        name, _, mode = entry.strip().partition(":")
        if name != step:
            continue
        print(f"test hook: {mode or 'fail'} at {step}", file=sys.stderr, flush=True)
        if mode == "pause":
            time.sleep(600)
        elif mode == "slow":
            time.sleep(3)
        else:
            raise RuntimeError(f"injected failure at step {step} ({TEST_FAULT_ENV})")


@dataclass(frozen=True)
class CloneOptions:
    dry_run: bool = False
    keep_instance: bool = False
    jobs: int = 1
    out: Path | None = None
    yes: bool = False


@dataclass(frozen=True)
class ClonePlan:
    run: str
    source: rds.SourceInstance
    snapshot_id: str
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
    estimate_usd: float
    usual_minutes: float


# -- preflight ---------------------------------------------------------------------------


def preflight(settings: Settings, clients: AwsClients, options: CloneOptions) -> ClonePlan:
    """Everything that can be checked before anything is created; raises on the first problem."""
    aws = settings.aws
    source = rds.describe_source(clients.rds, aws.source_instance)
    run = tags.new_run_id()
    name = tags.resource_name(run)
    if name == source.identifier:
        raise ProdcloneError(f"the throwaway id {name} equals the source's; refusing")
    local_port = aws.local_port or tunnels.free_port()
    if aws.tunnel == "ssm":
        tunnels.find_plugin(aws.ssm_plugin)
        if not aws.bastion:
            raise ProdcloneError(
                "prodclone.aws.bastion is not set: with tunnel ssm it must be the EC2 instance "
                "id of a bastion running the SSM agent (INVOKE_PRODCLONE_AWS_BASTION)"
            )
    if aws.tunnel == "ssh" and not aws.bastion:
        raise ProdcloneError(
            "prodclone.aws.bastion is not set: with tunnel ssh it must name the SSH host"
        )
    if aws.tunnel != "direct":
        tunnels.check_port_free(local_port)
    extra = _bin_dirs()
    pg_dump = find_tool("pg_dump", source.major, extra)
    pg_restore = find_tool("pg_restore", pg_dump.major, (pg_dump.path.parent, *extra))
    if aws.dump_compression:
        _check_compression(pg_dump, aws.dump_compression)
    if options.jobs < 1:
        raise ProdcloneError(f"--jobs must be at least 1 (got {options.jobs})")
    dump_path = options.out.resolve() if options.out else dumps.new_dump_path(settings.dump_dir)
    if options.out and not dump_path.parent.is_dir():
        raise ProdcloneError(f"--out {options.out}: folder {dump_path.parent} does not exist")
    if dump_path.exists():
        raise ProdcloneError(f"{dump_path} already exists; choose another --out")
    _check_disk(dump_path.parent, source.allocated_gb)
    expires = tags.expiry(
        aws.timeout_minutes
        + EXPIRY_MARGIN_MINUTES
        + (KEEP_HOURS * 60 if options.keep_instance else 0)
    )
    return ClonePlan(
        run=run,
        source=source,
        snapshot_id=name,
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
        estimate_usd=cost.run_estimate(aws.instance_class, source.allocated_gb),
        usual_minutes=cost.usual_minutes(source.allocated_gb),
    )


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
        timeout=30,
        check=False,
    )
    if "compression" in probe.stderr:
        reason = probe.stderr.strip().splitlines()[-1].removeprefix("pg_dump: error: ")
        raise ProdcloneError(
            f"prodclone.aws.dump_compression {compression!r} does not work with "
            f"{pg_dump.path}: {reason}; choose gzip:N or another method this pg_dump supports"
        )


def _check_disk(folder: Path, allocated_gb: int) -> None:
    probe = folder
    while not probe.exists():
        probe = probe.parent
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
    return [
        f"Plan for run {plan.run} (region {region}):",
        f"  source     {plan.source.identifier} (PostgreSQL {plan.source.engine_version}, "
        f"{plan.source.allocated_gb} GiB): read only, one snapshot taken",
        f"  snapshot   {plan.snapshot_id} (manual, deleted at the end)",
        f"  instance   {plan.instance_id} ({plan.instance_class}, not public, single-AZ, "
        f"no backups, subnet group {plan.subnet_group or 'default'}, security groups "
        f"{', '.join(plan.security_groups) or 'default'}; deleted at the end)",
        f"  tags       {tag_text}",
        "  tunnel     direct (the instance's endpoint as it is)"
        if plan.tunnel == "direct"
        else f"  tunnel     {plan.tunnel}, local port {plan.local_port}",
        f"  dump       database {plan.database!r} -> {plan.dump_path} ({fmt}, "
        f"compression {compression}, {plan.pg_dump.path.name} {plan.pg_dump.major})",
        f"  estimate   about ${plan.estimate_usd:.2f}, usually {plan.usual_minutes:.0f} minutes",
    ]


# -- running -----------------------------------------------------------------------------


class Report:
    """What the user sees: steps, statuses while waiting, progress bars."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._last_status: dict[str, str] = {}

    def step(self, text: str) -> None:
        self.console.print(f"==> {text}", highlight=False)

    def line(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def observer(self, what: str) -> Callable[[Observation, float], None]:
        def observe(seen: Observation, elapsed: float) -> None:
            shown = f"{seen.status} {seen.detail}".strip()
            if self._last_status.get(what) != shown:
                self._last_status[what] = shown
                self.line(f"    {what}: {shown} ({elapsed:.0f}s)")

        return observe

    @contextlib.contextmanager
    def waiting(self, what: str) -> Iterator[Callable[[Observation, float], None]]:
        """Status changes as lines; on a terminal also a spinner with status and elapsed time."""
        printed = self.observer(what)
        if not self.console.is_terminal:
            yield printed
            return
        with self.console.status(f"{what}: waiting") as spinner:

            def observe(seen: Observation, elapsed: float) -> None:
                printed(seen, elapsed)
                spinner.update(f"{what}: {seen.status} ({elapsed:.0f}s)")

            yield observe


class Cleanup:
    """Runs each teardown shielded from signals; remembers what could not be removed."""

    def __init__(self, report: Report, region: str) -> None:
        self.report = report
        self.region = region
        self.left: list[tuple[str, str, str]] = []

    def attempt(self, what: str, command: str, action: Callable[[], str]) -> None:
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


def delete_instance_command(instance_id: str, region: str) -> str:
    return (
        f"aws rds delete-db-instance --region {region} --db-instance-identifier {instance_id} "
        "--skip-final-snapshot --delete-automated-backups"
    )


def delete_snapshot_command(snapshot_id: str, region: str) -> str:
    return f"aws rds delete-db-snapshot --region {region} --db-snapshot-identifier {snapshot_id}"


@dataclass
class _Run:
    settings: Settings
    clients: AwsClients
    plan: ClonePlan
    options: CloneOptions
    report: Report
    cleanup: Cleanup
    deadline: float

    def wait(self) -> rds.WaitPolicy:
        remaining = max(self.deadline - time.monotonic(), 1.0)
        return rds.WaitPolicy(remaining, self.settings.aws.poll_max_seconds)

    def cleanup_wait(self) -> rds.WaitPolicy:
        return rds.WaitPolicy(CLEANUP_TIMEOUT_SECONDS, self.settings.aws.poll_max_seconds)

    def grace_wait(self) -> rds.WaitPolicy:
        return rds.WaitPolicy(APPEAR_GRACE_SECONDS, self.settings.aws.poll_max_seconds)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[str]:
        plan, client = self.plan, self.clients.rds
        sent = refused = False
        try:
            self.report.step(f"snapshot {plan.snapshot_id} of {plan.source.identifier}")
            sent = True
            try:
                rds.create_snapshot(client, plan.source, plan.snapshot_id, plan.tags)
            except Exception as exc:
                refused = bool(error_code(exc))  # AWS answered no: nothing was created
                raise
            checkpoint("snapshot")
            self._wait_snapshot_with_progress()
            checkpoint("snapshot-ready")
            yield plan.snapshot_id
        finally:
            if sent and not refused:
                self.cleanup.attempt(
                    f"snapshot {plan.snapshot_id}",
                    delete_snapshot_command(plan.snapshot_id, self.clients.region),
                    self._delete_snapshot,
                )

    def _delete_snapshot(self) -> str:
        client, snapshot_id = self.clients.rds, self.plan.snapshot_id
        outcome = rds.delete_snapshot(client, snapshot_id, self.plan.run, self.cleanup_wait())
        if outcome == "absent" and rds.appears(
            f"snapshot {snapshot_id}",
            lambda: rds.snapshot_exists(client, snapshot_id),
            self.grace_wait(),
        ):
            outcome = rds.delete_snapshot(client, snapshot_id, self.plan.run, self.cleanup_wait())
        return outcome

    def _wait_snapshot_with_progress(self) -> None:
        observe = self.report.observer(f"snapshot {self.plan.snapshot_id}")
        with Progress(
            TextColumn("    snapshot"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=self.report.console,
            transient=True,
            disable=not self.report.console.is_terminal,
        ) as progress:
            bar = progress.add_task("snapshot", total=100)

            def show(seen: Observation, elapsed: float) -> None:
                observe(seen, elapsed)
                with contextlib.suppress(ValueError):
                    progress.update(bar, completed=float(seen.detail.rstrip("%") or 0))

            rds.wait_snapshot(self.clients.rds, self.plan.snapshot_id, self.wait(), show)

    @contextlib.contextmanager
    def instance(self) -> Iterator[rds.Endpoint]:
        plan, client = self.plan, self.clients.rds
        region = self.clients.region
        sent = refused = False
        try:
            self.report.step(f"restore {plan.instance_id} ({plan.instance_class})")
            sent = True
            try:
                rds.restore_instance(
                    client,
                    instance_id=plan.instance_id,
                    snapshot_id=plan.snapshot_id,
                    instance_class=plan.instance_class,
                    subnet_group=plan.subnet_group,
                    security_groups=plan.security_groups,
                    tags=plan.tags,
                )
            except Exception as exc:
                refused = bool(error_code(exc))  # AWS answered no: nothing was created
                raise
            checkpoint("instance")
            with self.report.waiting(f"instance {plan.instance_id}") as observe:
                endpoint = rds.wait_instance(client, plan.instance_id, self.wait(), observe)
            checkpoint("instance-ready")
            yield endpoint
        finally:
            created = sent and not refused
            if created and self.options.keep_instance:
                self._announce_kept()
            elif created:
                self.cleanup.attempt(
                    f"instance {plan.instance_id}",
                    delete_instance_command(plan.instance_id, region),
                    self._delete_instance,
                )

    def _delete_instance(self) -> str:
        client, instance_id = self.clients.rds, self.plan.instance_id
        outcome = rds.delete_instance_when_possible(
            client, instance_id, self.plan.run, self.cleanup_wait()
        )
        if outcome == "absent" and rds.appears(
            f"instance {instance_id}",
            lambda: rds.instance_exists(client, instance_id),
            self.grace_wait(),
        ):
            outcome = rds.delete_instance_when_possible(
                client, instance_id, self.plan.run, self.cleanup_wait()
            )
        return outcome

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

    def new_password(self, endpoint: rds.Endpoint) -> tuple[str, rds.Endpoint]:
        plan = self.plan
        self.report.step(f"new master password for {plan.instance_id} (never shown)")
        password = secrets.token_urlsafe(24)
        rds.set_master_password(self.clients.rds, plan.instance_id, plan.run, password)
        with self.report.waiting(f"instance {plan.instance_id}") as observe:
            ready = rds.wait_instance(
                self.clients.rds, plan.instance_id, self.wait(), observe, no_pending_password=True
            )
        checkpoint("password")
        return password, ready

    def tunnel(self, endpoint: rds.Endpoint) -> contextlib.AbstractContextManager[tunnels.LocalEnd]:
        aws = self.settings.aws
        if self.plan.tunnel == "ssm":
            return tunnels.ssm_tunnel(
                self.clients.ssm,
                plugin=aws.ssm_plugin,
                bastion=aws.bastion,
                remote_host=endpoint.host,
                remote_port=endpoint.port,
                local_port=self.plan.local_port,
                region=self.clients.region,
                profile=self.clients.profile,
                ready_seconds=aws.tunnel_ready_seconds,
            )
        if self.plan.tunnel == "ssh":
            return tunnels.ssh_tunnel(
                aws.bastion,
                remote_host=endpoint.host,
                remote_port=endpoint.port,
                local_port=self.plan.local_port,
                ready_seconds=aws.tunnel_ready_seconds,
            )
        return tunnels.direct(endpoint.host, endpoint.port)


def run_clone(
    settings: Settings,
    clients: AwsClients,
    plan: ClonePlan,
    options: CloneOptions,
    console: Console,
) -> Path:
    """Create, dump, remove; returns the finished dump. Cleanup always runs."""
    report = Report(console)
    cleanup = Cleanup(report, clients.region)
    deadline = time.monotonic() + settings.aws.timeout_minutes * 60
    state = _Run(settings, clients, plan, options, report, cleanup, deadline)
    for notice in (
        dumps.prepare_dump_dir(plan.dump_path.parent, settings.project_dir)
        if (options.out is None)
        else ()
    ):
        report.line(f"    {notice}")
    resources = contextlib.ExitStack()
    try:
        with sigterm_interrupts():
            try:
                resources.enter_context(state.snapshot())
                endpoint = resources.enter_context(state.instance())
                password, endpoint = state.new_password(endpoint)
                report.step(f"tunnel ({plan.tunnel}) to {plan.instance_id}")
                end = resources.enter_context(state.tunnel(endpoint))
                checkpoint("tunnel")
                partial = resources.enter_context(_partial(plan.dump_path))
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


@contextlib.contextmanager
def _partial(final: Path) -> Iterator[Path]:
    partial = final.with_name(final.name + dumps.PARTIAL_SUFFIX)
    try:
        yield partial
    finally:
        with shielded():
            if partial.is_dir():
                shutil.rmtree(partial, ignore_errors=True)
            elif partial.exists():
                partial.unlink()


# -- pg_dump -----------------------------------------------------------------------------


def _pgpass_line(host: str, port: int, database: str, user: str, password: str) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace(":", "\\:")

    return ":".join(escape(v) for v in (host, str(port), database, user, password)) + "\n"


@contextlib.contextmanager
def pgpass_file(host: str, port: int, database: str, user: str, password: str) -> Iterator[Path]:
    """A 0600 password file in a private folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="prodclone-") as folder:
        path = Path(folder) / "pgpass"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(_pgpass_line(host, port, database, user, password))
        yield path


def _size_of(path: Path) -> int:
    if path.is_dir():
        return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
    return path.stat().st_size if path.exists() else 0


def _database_size(end: tunnels.LocalEnd, database: str, user: str, passfile: Path) -> int:
    import psycopg

    try:
        with psycopg.connect(
            host=end.host,
            port=end.port,
            dbname=database,
            user=user,
            passfile=str(passfile),
            connect_timeout=30,
        ) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or ["no answer"])[-1]
        raise ProdcloneError(
            f"cannot connect to database {database!r} on the throwaway instance: {reason}"
        ) from None
    return int(row[0]) if row else 0


def dump_database(
    plan: ClonePlan,
    end: tunnels.LocalEnd,
    user: str,
    password: str,
    target: Path,
    report: Report,
    on_started: Callable[[], None] = lambda: None,
) -> None:
    """pg_dump through the tunnel into `target`; the password goes through a pgpass file."""
    with pgpass_file(end.host, end.port, plan.database, user, password) as passfile:
        total = _database_size(end, plan.database, user, passfile)
        jobs = plan.jobs if end.parallel_ok else 1
        args = [
            str(plan.pg_dump.path),
            "--format=directory" if jobs > 1 else "--format=custom",
            "--no-password",
            f"--file={target}",
        ]
        if jobs > 1:
            args.append(f"--jobs={jobs}")
        if plan.compression:
            args.append(f"--compress={plan.compression}")
        env = {
            **os.environ,
            "PGHOST": end.host,
            "PGPORT": str(end.port),
            "PGUSER": user,
            "PGDATABASE": plan.database,
            "PGPASSFILE": str(passfile),
            "PGCONNECT_TIMEOUT": "30",
            "PGAPPNAME": "prodclone",
        }
        env.pop("PGPASSWORD", None)
        report.step(
            f"pg_dump {plan.database} ({total / 1024**2:.0f} MiB in the database) -> {target.name}"
        )
        with (
            tempfile.TemporaryFile("w+") as errors,
            Progress(
                TextColumn("    dump"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeElapsedColumn(),
                console=report.console,
                transient=True,
                disable=not report.console.is_terminal,
            ) as progress,
        ):
            bar = progress.add_task("dump", total=max(total, 1))
            process = subprocess.Popen(
                args,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                umask=0o077,
            )
            try:
                on_started()
                while process.poll() is None:
                    progress.update(bar, completed=_size_of(target))
                    time.sleep(0.3)
            finally:
                _stop(process)
            errors.seek(0)
            message = errors.read().strip().splitlines()
        if process.returncode != 0:
            reason = message[-1] if message else "no message"
            raise ProdcloneError(f"pg_dump failed (exit {process.returncode}): {reason}")
        written = _size_of(target)
        report.line(f"    wrote {written / 1024**2:.1f} MiB")
        _make_private(target)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


def _make_private(path: Path) -> None:
    if path.is_dir():
        os.chmod(path, 0o700)
        for item in path.rglob("*"):
            os.chmod(item, 0o600 if item.is_file() else 0o700)
    else:
        os.chmod(path, 0o600)
