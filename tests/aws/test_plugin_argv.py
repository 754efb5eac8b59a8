"""session-manager-plugin is started exactly as `aws ssm start-session` starts it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.aws.conftest import BASTION, REGION, Cloud, all_cmdlines, start_inv
from tests.conftest import Project

SESSION_KEYS = {"SessionId", "TokenValue", "StreamUrl"}


def _run(project: Project, cloud: Cloud, tmp_path: Path, version: str) -> list[dict[str, Any]]:
    record = tmp_path / "plugin-argv.jsonl"
    env = {
        **cloud.env,
        "FAKE_PLUGIN_VERSION": version,
        "FAKE_PLUGIN_ARGV_FILE": str(record),
        # Each tunnelled connection stalls a moment, so the plugin's argv can be read.
        "FAKE_PLUGIN_STALL_SECONDS": "1",
    }
    process = start_inv(project, "db.clone-prod", "--yes", env=env)
    cmdlines: set[str] = set()
    while process.poll() is None:
        cmdlines.update(line for line in all_cmdlines() if "session_manager_plugin" in line)
        time.sleep(0.05)
    _, err = process.communicate()
    assert process.returncode == 0, err
    assert cmdlines, "the plugin was never seen running"
    [started] = [json.loads(line) for line in record.read_text().splitlines()]
    [issued] = cloud.ssm.started
    # The plugin got the session StartSession answered, nothing more.
    assert set(started["session"]) == SESSION_KEYS
    assert all(started["session"][key] == issued[key] for key in SESSION_KEYS)
    started["cmdlines"] = sorted(cmdlines)
    return [started, issued]


def _assert_rest_of_argv(argv: list[str], cloud: Cloud, issued: dict[str, Any]) -> None:
    _, region, operation, profile, request, endpoint = argv
    assert (region, operation, profile, endpoint) == (REGION, "StartSession", "", cloud.ssm.url)
    assert json.loads(request) == issued["Request"]
    assert json.loads(request)["Target"] == BASTION
    assert json.loads(request)["DocumentName"] == "AWS-StartPortForwardingSessionToRemoteHost"
    assert set(json.loads(request)["Parameters"]) == {"host", "portNumber", "localPortNumber"}


def test_newer_plugin_reads_the_session_from_an_env_var(
    clone_project: Project, cloud: Cloud, tmp_path: Path
) -> None:
    started, issued = _run(clone_project, cloud, tmp_path, "1.2.497.1")
    assert started["argv"][0] == "AWS_SSM_START_SESSION_RESPONSE"
    _assert_rest_of_argv(started["argv"], cloud, issued)
    # The session token never shows in the process list.
    assert all(issued["TokenValue"] not in line for line in started["cmdlines"])


@pytest.mark.parametrize("version", ["1.2.497.0", "not a version"])
def test_older_plugin_gets_the_session_json_in_argv(
    clone_project: Project, cloud: Cloud, tmp_path: Path, version: str
) -> None:
    started, issued = _run(clone_project, cloud, tmp_path, version)
    assert json.loads(started["argv"][0]) == {key: issued[key] for key in SESSION_KEYS}
    _assert_rest_of_argv(started["argv"], cloud, issued)
