"""Faults at every step of `inv db.clone-prod`: each leaves nothing behind.

Nothing behind means: no throwaway instance, no snapshot, no plugin process, no
open SSM session, no dump or partial file; and the source untouched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from prodclone.clone import STEPS
from tests.aws.conftest import Cloud, aws_settings, plugin_processes, start_inv
from tests.conftest import Project
from tests.terminal import wait_for_line

# moto warns that its Throttling error has no shape in the RDS model; botocore still reads it.
pytestmark = pytest.mark.filterwarnings("ignore:Exception\\(RDSClientError\\):UserWarning")


def password_folders(project: Project, cloud: Cloud) -> list[str]:
    """Password folders of clone-prod runs: in the project's state folder, or the run's TMPDIR."""
    state = project.data_dir / "clone-prod"
    found = sorted(state.glob("pgpass-*")) if state.is_dir() else []
    found += sorted(Path(cloud.env["TMPDIR"]).iterdir())
    return [str(path) for path in found]


def assert_nothing_left(project: Project, cloud: Cloud) -> None:
    assert cloud.instances() == []
    assert cloud.snapshots() == []
    assert cloud.clusters() == []
    assert cloud.cluster_snapshots() == []
    assert plugin_processes(cloud) == []
    assert cloud.ssm.open_sessions == []
    dump_dir = project.root / "dump"
    leftovers = [p.name for p in dump_dir.iterdir()] if dump_dir.exists() else []
    assert [name for name in leftovers if name.startswith("prod-")] == []
    assert password_folders(project, cloud) == []
    assert cloud.source_untouched()


def soon(look: Callable[[], list[Path]], seconds: float = 30) -> list[Path]:
    """What `look` finds, as soon as it finds anything; [] if nothing within `seconds`."""
    deadline = time.monotonic() + seconds
    while not (found := look()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


@pytest.mark.parametrize("step", STEPS)
def test_exception_at_each_step_cleans_up(clone_project: Project, cloud: Cloud, step: str) -> None:
    env = {**cloud.env, "PRODCLONE_TEST_FAULT": step}
    result = clone_project.run("db.clone-prod", "--yes", env=env)
    assert result.returncode != 0
    assert f"injected failure at step {step}" in result.stderr
    assert "CLEANUP FAILED" not in result.stderr
    assert_nothing_left(clone_project, cloud)


@pytest.mark.parametrize("step", STEPS)
def test_sigint_at_each_step_cleans_up(clone_project: Project, cloud: Cloud, step: str) -> None:
    env = {**cloud.env, "PRODCLONE_TEST_FAULT": f"{step}:pause"}
    process = start_inv(clone_project, "db.clone-prod", "--yes", env=env)
    try:
        wait_for_line(process.stderr, f"test hook: pause at {step}")
        if step in ("tunnel", "dump", "verify"):
            [plugin] = plugin_processes(cloud)  # the leak check sees a live plugin
            # It leads its own process group, so a terminal's Ctrl-C reaches only us and
            # the teardown order stays ours (pg_dump first, then the tunnel).
            pid = int(plugin.split()[1].rstrip(":"))
            assert os.getpgid(pid) == pid
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "interrupted" in err
    assert_nothing_left(clone_project, cloud)


def test_sigterm_cleans_up(clone_project: Project, cloud: Cloud) -> None:
    env = {**cloud.env, "PRODCLONE_TEST_FAULT": "tunnel:pause"}
    process = start_inv(clone_project, "db.clone-prod", "--yes", env=env)
    try:
        wait_for_line(process.stderr, "test hook: pause at tunnel")
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130
    assert_nothing_left(clone_project, cloud)


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGQUIT], ids=["SIGHUP", "SIGQUIT"])
def test_hangup_and_quit_mid_dump_clean_up(
    clone_project: Project, cloud: Cloud, signum: signal.Signals
) -> None:
    """A closed terminal or SSH session (SIGHUP), or Ctrl-\\ (SIGQUIT), during the dump:
    the snapshot, the instance, the plugin, the SSM session, the password folder and
    the partial dump all exist at that point, and all go."""
    env = {**cloud.env, "PRODCLONE_TEST_FAULT": "dump:pause"}
    process = start_inv(clone_project, "db.clone-prod", "--yes", env=env)
    try:
        wait_for_line(process.stderr, "test hook: pause at dump")
        assert cloud.instances() and cloud.snapshots() and plugin_processes(cloud)
        assert len(password_folders(clone_project, cloud)) == 1
        # The hook pauses the run just after pg_dump starts: on a busy machine pg_dump may
        # not have run far enough to open its file yet, and it does so while the run waits.
        assert soon(lambda: list((clone_project.root / "dump").glob("prod-*.partial")))
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "prodclone: interrupted" in err
    assert "CLEANUP FAILED" not in err
    assert_nothing_left(clone_project, cloud)


def test_second_ctrl_c_at_the_first_line_of_teardown_does_not_stop_it(
    clone_project: Project, cloud: Cloud
) -> None:
    # The "teardown" hook sits on the teardown's very first line and holds it there.
    env = {**cloud.env, "PRODCLONE_TEST_FAULT": "instance-ready:pause,teardown:slow"}
    process = start_inv(clone_project, "db.clone-prod", "--yes", env=env)
    try:
        wait_for_line(process.stderr, "test hook: pause at instance-ready")
        process.send_signal(signal.SIGINT)
        wait_for_line(process.stderr, "test hook: slow at teardown")
        process.send_signal(signal.SIGINT)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "still cleaning up" in err
    assert "CLEANUP FAILED" not in err
    assert_nothing_left(clone_project, cloud)


# Where the first Ctrl-C lands, and how long after it the second one follows.
DOUBLE_CTRL_C = [
    ("snapshot", 0.0),
    ("instance-ready", 0.0005),
    ("tunnel", 0.001),
    ("dump", 0.002),
    ("verify", 0.003),
]


def test_two_ctrl_c_back_to_back_leave_nothing(clone_project: Project, cloud: Cloud) -> None:
    for step, gap in DOUBLE_CTRL_C:
        env = {**cloud.env, "PRODCLONE_TEST_FAULT": f"{step}:pause"}
        process = start_inv(clone_project, "db.clone-prod", "--yes", env=env)
        try:
            wait_for_line(process.stderr, f"test hook: pause at {step}")
            process.send_signal(signal.SIGINT)
            until = time.perf_counter() + gap
            while time.perf_counter() < until:
                pass  # a sleep this short would oversleep
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=60)
        finally:
            process.kill()
        where = f"second Ctrl-C {gap * 1000:.1f} ms after the first, at {step}"
        assert process.returncode == 130, f"{where}:\n{err}"
        assert "Traceback" not in err, where
        assert_nothing_left(clone_project, cloud)


def test_second_ctrl_c_during_cleanup_does_not_stop_it(
    clone_project: Project, cloud: Cloud
) -> None:
    env = {**cloud.env, "PRODCLONE_TEST_FAULT": "instance-ready:pause,cleanup:slow"}
    process = start_inv(clone_project, "db.clone-prod", "--yes", env=env)
    try:
        wait_for_line(process.stderr, "test hook: pause at instance-ready")
        process.send_signal(signal.SIGINT)
        wait_for_line(process.stderr, "test hook: slow at cleanup")
        process.send_signal(signal.SIGINT)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert "still cleaning up" in err
    assert "CLEANUP FAILED" not in err
    assert_nothing_left(clone_project, cloud)


@pytest.mark.parametrize(
    ("settings", "env", "message"),
    [
        ({}, {"FAKE_PLUGIN_CUT_AFTER_BYTES": "60000"}, "pg_dump failed"),
        (
            {"tunnel_ready_seconds": 1},
            {"FAKE_PLUGIN_HANG": "1"},
            "the SSM tunnel did not open within 1s",
        ),
        (
            {},
            {"FAKE_PLUGIN_EXIT": "An error occurred (AccessDeniedException)"},
            "session-manager-plugin exited (1) before the tunnel opened: "
            "An error occurred (AccessDeniedException)",
        ),
    ],
    ids=["pg_dump-cut-midway", "plugin-never-ready", "plugin-exits-early"],
)
def test_tunnel_and_dump_failures_say_why_and_clean_up(
    project: Project, cloud: Cloud, settings: dict[str, Any], env: dict[str, str], message: str
) -> None:
    project.configure(aws_settings(**settings))
    result = project.run("db.clone-prod", "--yes", env={**cloud.env, **env})
    assert result.returncode == 1
    assert f"prodclone: {message}" in result.stderr
    assert_nothing_left(project, cloud)


@pytest.fixture
def restore_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """The moto server runs in this process: make restored instances turn up `failed`."""
    from moto.rds.models import RDSBackend

    original = RDSBackend.restore_db_instance_from_db_snapshot

    def failing(self: Any, *args: Any, **kwargs: Any) -> Any:
        database = original(self, *args, **kwargs)
        database.status = "failed"
        return database

    monkeypatch.setattr(RDSBackend, "restore_db_instance_from_db_snapshot", failing)


def test_instance_entering_failed_stops_at_once(
    clone_project: Project, cloud: Cloud, restore_fails: None
) -> None:
    result = clone_project.run("db.clone-prod", "--yes", env=cloud.env)
    assert result.returncode == 1
    assert "entered state 'failed'" in result.stderr
    assert_nothing_left(clone_project, cloud)


@pytest.fixture
def throttled_describes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """After the restore, the next six DescribeDBInstances calls are throttled."""
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import RDSBackend
    from moto.rds.responses import RDSResponse

    throttled: list[int] = []
    budget = [0]
    original_restore = RDSBackend.restore_db_instance_from_db_snapshot
    original_describe = RDSResponse.describe_db_instances

    def restore(self: Any, *args: Any, **kwargs: Any) -> Any:
        budget[0] = 6
        return original_restore(self, *args, **kwargs)

    def describe(self: Any) -> Any:
        if budget[0] > 0:
            budget[0] -= 1
            throttled.append(1)
            raise RDSClientError("Throttling", "Rate exceeded")
        return original_describe(self)

    monkeypatch.setattr(RDSBackend, "restore_db_instance_from_db_snapshot", restore)
    monkeypatch.setattr(RDSResponse, "describe_db_instances", describe)
    yield throttled


def test_throttling_on_describe_is_recovered(
    clone_project: Project, cloud: Cloud, throttled_describes: list[int]
) -> None:
    # One attempt per botocore call, so the polling's own retry has to recover.
    env = {**cloud.env, "AWS_MAX_ATTEMPTS": "1"}
    result = clone_project.run("db.clone-prod", "--yes", env=env)
    assert result.returncode == 0, result.stderr
    assert len(throttled_describes) == 6
    assert len(list((clone_project.root / "dump").glob("prod-*.dump"))) == 1
    assert cloud.instances() == []
    assert cloud.snapshots() == []


def _run_quiet(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False)


@pytest.fixture
def instance_deletion_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import RDSBackend

    def broken(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RDSClientError("InternalFailure", "the service is having a bad day")

    monkeypatch.setattr(RDSBackend, "delete_db_instance", broken)


def test_failed_cleanup_says_what_was_left_and_how_to_remove_it(
    clone_project: Project, cloud: Cloud, instance_deletion_broken: None
) -> None:
    env = {**cloud.env, "AWS_MAX_ATTEMPTS": "1"}
    result = clone_project.run("db.clone-prod", "--yes", env=env)
    assert result.returncode == 1
    [instance] = cloud.instances()
    assert "CLEANUP FAILED" in result.stderr
    assert f"instance {instance} (" in result.stderr
    assert (
        "remove with: aws rds delete-db-instance --region us-east-1 "
        f"--db-instance-identifier {instance} --skip-final-snapshot --delete-automated-backups"
    ) in result.stderr
    assert "inv db.list-clones --delete" in result.stderr
    # The rest of the cleanup still ran.
    assert cloud.snapshots() == []
    assert plugin_processes(cloud) == []


def test_aws_refusing_the_restore_is_one_line_and_the_snapshot_is_removed(
    project: Project, cloud: Cloud
) -> None:
    project.configure(aws_settings(subnet_group="no-such-subnet-group"))
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert result.returncode == 1
    assert "prodclone: AWS refused RestoreDBInstanceFromDBSnapshot: DBSubnetGroupNotFound" in (
        result.stderr
    )
    assert "KEPT" not in result.stderr
    assert_nothing_left(project, cloud)
