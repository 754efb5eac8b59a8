"""db.clone-prod run in the test process says and leaves what a real `inv db.clone-prod` does.

Most tests in this folder run clone-prod in-process (`Project.run`); this pins that
seam to the real command on a full clone against moto and on a run failing at a
step: the exit code, every line printed, the AWS calls made, and what is left in
the cloud and in the project folder, once the run's own names, times and ports are
set aside.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from prodclone.guard.signals import CLEANUP_SIGNALS
from prodclone.local.server import LocalServer
from tests.aws.conftest import Cloud, aws_settings, plugin_processes
from tests.aws.test_faults import password_folders
from tests.conftest import Project

# What differs between two runs of the same clone: the run id (and the names made
# from it), stamps, durations, the tunnel's local port and the SSM session's id.
VARYING = [
    (re.compile(r"\d{8}-\d{6}-[0-9a-f]{4}"), "RUN"),
    (re.compile(r"\d{8}T\d{6}Z"), "STAMP"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"), "TIME"),
    (re.compile(r"\(\d+s\)"), "(Ns)"),
    (re.compile(r"local port \d+"), "local port N"),
    (re.compile(r"tester-[0-9a-f]{17}"), "SESSION"),
]
# A traceback's frames above Invoke's Program.run are its caller's: the interpreter's
# start-up under `inv`, the test's seam here.
CALLER_FRAMES = re.compile(
    r"(Traceback \(most recent call last\):\n)(?:  File .*\n(?:    .*\n)*?)*?"
    r"(?=  File \"[^\"]*/invoke/program\.py\", line \d+, in run\n)"
)


def steady(text: str, project: Project) -> str:
    text = text.replace(str(project.root), "PROJECT")
    for pattern, stands_for in VARYING:
        text = pattern.sub(stands_for, text)
    return CALLER_FRAMES.sub(r"\1", text)


def calls_made(call_log: Path, project: Project) -> list[str]:
    """The AWS calls of a run, in order; the heartbeat's re-tagging comes as often as the
    run's length allows (every 2 s here), so it is left out."""
    calls = [json.loads(line) for line in call_log.read_text().splitlines()]
    return [
        steady(json.dumps(call, sort_keys=True), project)
        for call in calls
        if call["action"] != "AddTagsToResource"
    ]


def left_behind(project: Project, cloud: Cloud) -> dict[str, Any]:
    """What the run left: in the cloud, as processes, and in the project folder (with modes)."""
    files = sorted(
        f"{steady(str(path.relative_to(project.root)), project)} {path.stat().st_mode & 0o777:o}"
        for path in project.root.rglob("*")
        if path.name not in ("tasks.py", "invoke.yaml")
    )
    return {
        "cloud": cloud.made_and_left(),
        "source untouched": cloud.source_untouched(),
        "plugins": plugin_processes(cloud),
        "open sessions": cloud.ssm.open_sessions,
        "password folders": password_folders(project, cloud),
        "files": files,
    }


def run_both_ways(
    tmp_path: Path,
    pg_data_dir: Path,
    request: pytest.FixtureRequest,
    cloud: Cloud,
    env: dict[str, str],
) -> subprocess.CompletedProcess[str]:
    """clone-prod in two project folders, by a real `inv`, then in-process (its result returned)."""
    seen = []
    for name in ("real", "here"):
        folder = tmp_path / name
        folder.mkdir()
        project = Project(folder, pg_data_dir, request)
        project.configure(aws_settings())
        call_log = tmp_path / f"{name}-calls.jsonl"
        run_env = {**cloud.env, **env, "PRODCLONE_AWS_CALL_LOG": str(call_log)}
        args = ("db.clone-prod", "--yes")
        done = (
            project.inv(*args, env=run_env) if name == "real" else project.run(*args, env=run_env)
        )
        seen.append(
            (
                done,
                {
                    "exit code": done.returncode,
                    "stdout": steady(done.stdout, project).splitlines(),
                    "stderr": steady(done.stderr, project).splitlines(),
                    "calls": calls_made(call_log, project),
                    "left": left_behind(project, cloud),
                },
            )
        )
    (_, real), (here, in_process) = seen
    assert in_process == real
    return here


def test_a_full_clone_is_the_same_both_ways(
    tmp_path: Path, pg_data_dir: Path, pg: LocalServer, request: pytest.FixtureRequest, cloud: Cloud
) -> None:
    done = run_both_ways(tmp_path, pg_data_dir, request, cloud, {})
    assert done.returncode == 0, done.stderr
    assert "dump ready: " in done.stdout


def test_a_failure_at_a_step_is_the_same_both_ways(
    tmp_path: Path, pg_data_dir: Path, pg: LocalServer, request: pytest.FixtureRequest, cloud: Cloud
) -> None:
    done = run_both_ways(tmp_path, pg_data_dir, request, cloud, {"PRODCLONE_TEST_FAULT": "dump"})
    assert done.returncode == 1
    assert "RuntimeError: injected failure at step dump" in done.stderr
    assert "Traceback (most recent call last):" in done.stderr


def _threads() -> set[threading.Thread]:
    """This process's threads, less the fake endpoints' (moto's, the SSM fake's) serving a
    connection that a run's client keeps open until it is collected."""
    return {t for t in threading.enumerate() if "process_request_thread" not in t.name}


def _children() -> set[str]:
    """This process's children, zombies included (one never reaped counts)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, fields = stat.read_text().rsplit(")", 1)
        except (OSError, ValueError):
            continue
        if fields.split()[1] == str(os.getpid()):
            found.add(f"{stat.parent.name} {name.split('(', 1)[1]} {fields.split()[0]}")
    return found


def test_runs_in_one_process_each_read_their_own_environment_and_leave_nothing_running(
    clone_project: Project, cloud: Cloud, tmp_path: Path
) -> None:
    # What one in-process run could leave to the next (a cached client, a handler, a
    # thread, a child) would make the runs after it differ from a real `inv`.
    handlers = {signum: signal.getsignal(signum) for signum in CLEANUP_SIGNALS}
    threads, children = _threads(), _children()
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    done = clone_project.run(
        "db.clone-prod", "--yes", env={**cloud.env, "PRODCLONE_AWS_CALL_LOG": str(first)}
    )
    assert done.returncode == 0, done.stderr
    made = first.read_text()
    unreachable = {**cloud.env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    refused = clone_project.run("db.clone-prod", "--yes", env=unreachable)
    assert refused.returncode == 1
    assert refused.stderr.startswith("prodclone: cannot reach AWS: "), refused.stderr
    env = {**cloud.env, "PRODCLONE_AWS_CALL_LOG": str(second), "PRODCLONE_TEST_FAULT": "tunnel"}
    failed = clone_project.run("db.clone-prod", "--yes", env=env)
    assert "injected failure at step tunnel" in failed.stderr
    assert first.read_text() == made
    assert "DeleteDBInstance" in second.read_text()
    assert cloud.made_and_left() == []
    assert {signum: signal.getsignal(signum) for signum in CLEANUP_SIGNALS} == handlers
    assert _threads() == threads
    assert _children() == children
