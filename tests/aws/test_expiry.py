"""Expiry against long runs: a live run is never a stray; a killed one is named and removable.

The heartbeat is paced by `poll_max_seconds` (0.05 s, its least, where a test waits
for a beat: one every half second). The tests age a live run's tags as if its dump
had outlasted the expiry set at the start, then run the scheduled clean-up a team
would run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prodclone.aws.tags import parse_time
from tests.aws.conftest import (
    REGION,
    Cloud,
    aws_settings,
    plugin_processes,
    prodclone_tags,
    start_inv,
)
from tests.aws.iam_eval import Policy, requests_from_log
from tests.aws.test_faults import assert_nothing_left, password_folders
from tests.conftest import REPO, Project
from tests.terminal import wait_for_line


def _expiries(cloud: Cloud, name: str) -> list[datetime | None]:
    arns = [
        cloud.rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0][
            "DBInstanceArn"
        ],
        cloud.rds.describe_db_snapshots(DBSnapshotIdentifier=name)["DBSnapshots"][0][
            "DBSnapshotArn"
        ],
    ]
    found = []
    for arn in arns:
        tags = cloud.rds.list_tags_for_resource(ResourceName=arn)["TagList"]
        values = [t["Value"] for t in tags if t["Key"] == "prodclone:expires-at"]
        found.append(parse_time(values[0]) if values else None)
    return found


def _age(cloud: Cloud, name: str, run: str) -> None:
    """Tags as a dump running past the run's deadline would find them: expired."""
    past = prodclone_tags(run, datetime.now(UTC) - timedelta(minutes=5))
    for arn in (
        cloud.rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0][
            "DBInstanceArn"
        ],
        cloud.rds.describe_db_snapshots(DBSnapshotIdentifier=name)["DBSnapshots"][0][
            "DBSnapshotArn"
        ],
    ):
        cloud.rds.add_tags_to_resource(ResourceName=arn, Tags=past)


def test_live_run_stays_ahead_of_its_expiry_and_survives_the_scheduled_delete(
    clone_project: Project, cloud: Cloud
) -> None:
    clone_project.configure(aws_settings(poll_max_seconds=0.05))
    env = {**cloud.env, "PRODCLONE_TEST_FAULT": "dump:pause"}
    process = start_inv(clone_project, "db.clone-prod", "--yes", env=env)
    try:
        wait_for_line(process.stderr, "test hook: pause at dump")
        [name] = cloud.instances()
        run = name.removeprefix("prodclone-")
        _age(cloud, name, run)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ahead = datetime.now(UTC) + timedelta(minutes=20)
            if all(e is not None and e > ahead for e in _expiries(cloud, name)):
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"expiry tags left behind: {_expiries(cloud, name)}")
        scheduled = clone_project.run("db.list-clones", "--delete", "--yes", env=cloud.env)
        assert scheduled.returncode == 0, scheduled.stderr
        assert "STRAY" not in scheduled.stdout
        assert f"run {run} is live until " in scheduled.stdout
        assert cloud.instances() == [name]
        assert cloud.snapshots() == [name]
        assert process.poll() is None  # the run is still going
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert_nothing_left(clone_project, cloud)
    # The heartbeat's tagging is what docs/iam-policy.json allows.
    calls = cloud.call_log.read_text().splitlines()
    assert any(json.loads(line)["action"] == "AddTagsToResource" for line in calls)
    policy = Policy.load(REPO / "docs" / "iam-policy.json", **{"aws:userid": "tester"})
    requests = requests_from_log(calls, REGION, "123456789012", set())
    assert [r for r in requests if not policy.allows(r)] == []


def test_killed_run_is_named_and_removed_at_once(clone_project: Project, cloud: Cloud) -> None:
    env = {**cloud.env, "PRODCLONE_TEST_FAULT": "dump:pause"}
    process = start_inv(clone_project, "db.clone-prod", "--yes", env=env)
    plugins: list[str] = []
    try:
        wait_for_line(process.stderr, "test hook: pause at dump")
        plugins = plugin_processes(cloud)
        assert len(plugins) == 1 and len(cloud.ssm.open_sessions) == 1
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        [name] = cloud.instances()
        run = name.removeprefix("prodclone-")
        # The password folder a killed run leaves is in the project's state folder, not /tmp.
        [folder] = password_folders(clone_project, cloud)
        assert Path(folder).parent == clone_project.data_dir / "clone-prod"
        assert oct(Path(folder).stat().st_mode & 0o777) == "0o700"

        listed = clone_project.run("db.list-clones", env=cloud.env)
        assert listed.returncode == 0, listed.stderr  # not expired: no stray yet
        assert f"inv db.list-clones --delete --run {run}`" in listed.stdout

        removed = clone_project.run(
            "db.list-clones", "--delete", "--run", run, "--yes", env=cloud.env
        )
        assert removed.returncode == 0, removed.stderr
        assert f"instance {name}: deleted" in removed.stderr
        assert f"snapshot {name}: deleted" in removed.stderr
        assert "removed 1 password folder(s) left by killed runs" in removed.stderr
        assert "stopped the SSM plugin (pid " in removed.stderr
        assert "ended SSM session " in removed.stderr
        assert cloud.instances() == [] and cloud.snapshots() == []
        assert password_folders(clone_project, cloud) == []
        assert plugin_processes(cloud) == []
        assert cloud.ssm.open_sessions == []
        assert sorted(p.name for p in (clone_project.data_dir / "clone-prod").iterdir()) == []

    finally:
        process.kill()
        # Should the test fail before `--delete --run`, it still stops the plugin it started.
        for plugin in plugins:
            pid = int(plugin.split()[1].rstrip(":"))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def test_run_flag_takes_only_a_run_id(clone_project: Project, cloud: Cloud) -> None:
    result = clone_project.run("db.list-clones", "--run", "prodclone run;1", env=cloud.env)
    assert result.returncode == 2  # a bad flag; 1 means strays were found
    assert result.stderr.strip() == (
        "prodclone: --run 'prodclone run;1' is not a run id; copy it from "
        "`inv db.list-clones` (like 20261124-121518-9d3c)"
    )
