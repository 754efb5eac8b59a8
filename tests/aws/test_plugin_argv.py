"""session-manager-plugin is started exactly as `aws ssm start-session` starts it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.aws.conftest import BASTION, REGION, Cloud
from tests.conftest import Project

SESSION_KEYS = {"SessionId", "TokenValue", "StreamUrl"}


def _run(
    project: Project, cloud: Cloud, tmp_path: Path, version: str, **env_extra: str
) -> list[dict[str, Any]]:
    """One clone run with a plugin of `version`; what the plugin got, and what SSM issued."""
    record = tmp_path / "plugin-argv.jsonl"
    env = {
        **cloud.env,
        "FAKE_PLUGIN_VERSION": version,
        "FAKE_PLUGIN_ARGV_FILE": str(record),
        **env_extra,
    }
    result = project.run("db.clone-prod", "--yes", env=env)
    assert result.returncode == 0, result.stderr
    [started] = [json.loads(line) for line in record.read_text().splitlines()]
    [issued] = cloud.ssm.started
    # The plugin got the session StartSession answered, nothing more.
    assert set(started["session"]) == SESSION_KEYS
    assert all(started["session"][key] == issued[key] for key in SESSION_KEYS)
    return [started, issued]


def _assert_rest_of_argv(
    argv: list[str], cloud: Cloud, issued: dict[str, Any], profile: str = ""
) -> None:
    _, region, operation, given_profile, request, endpoint = argv
    assert (region, operation, given_profile, endpoint) == (
        REGION,
        "StartSession",
        profile,
        cloud.ssm.url,
    )
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
    assert all(issued["TokenValue"] not in arg for arg in started["argv"])


def test_older_plugin_gets_the_session_json_in_argv(
    clone_project: Project, cloud: Cloud, tmp_path: Path
) -> None:
    started, issued = _run(clone_project, cloud, tmp_path, "1.2.497.0")
    assert json.loads(started["argv"][0]) == {key: issued[key] for key in SESSION_KEYS}
    _assert_rest_of_argv(started["argv"], cloud, issued)


def test_the_profile_in_use_is_passed_on(
    clone_project: Project, cloud: Cloud, tmp_path: Path
) -> None:
    config = tmp_path / "aws-config"
    config.write_text(f"[profile ci]\nregion = {REGION}\n")
    credentials = tmp_path / "aws-credentials"
    credentials.write_text("[ci]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    started, issued = _run(
        clone_project,
        cloud,
        tmp_path,
        "1.2.650.0",
        AWS_PROFILE="ci",
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(credentials),
    )
    _assert_rest_of_argv(started["argv"], cloud, issued, profile="ci")


def test_a_session_that_cannot_be_terminated_is_reported(
    clone_project: Project, cloud: Cloud
) -> None:
    cloud.ssm.refuse_terminate = True
    result = clone_project.run("db.clone-prod", "--yes", env=cloud.env)
    assert result.returncode == 0, result.stderr  # the dump is fine; the session ends when idle
    [session] = cloud.ssm.open_sessions
    assert f"could not terminate SSM session {session} (" in result.stderr
    assert f"aws ssm terminate-session --session-id {session}" in result.stderr
