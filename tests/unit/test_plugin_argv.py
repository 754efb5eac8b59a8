"""The SSM plugin's argv and environment, as `aws ssm start-session` gives them (no process)."""

from __future__ import annotations

import json

from prodclone.aws.tunnels import ENV_VAR_PLUGIN_MIN, SESSION_ENV_VAR, plugin_invocation

SESSION = {"SessionId": "s-1", "TokenValue": "secret-token-value", "StreamUrl": "wss://x"}
REQUEST = {"Target": "i-0123", "DocumentName": "AWS-StartPortForwardingSession"}


def invocation(version: tuple[int, ...]) -> tuple[list[str], dict[str, str]]:
    return plugin_invocation(
        "/opt/plugin",
        version,
        session=SESSION,
        region="eu-west-1",
        profile="ops",
        request=REQUEST,
        endpoint_url="https://ssm.eu-west-1.amazonaws.com",
    )


def test_order_is_the_cli_s() -> None:
    argv, _ = invocation((1, 2, 650, 0))
    assert argv[0] == "/opt/plugin"
    assert argv[2:5] == ["eu-west-1", "StartSession", "ops"]
    assert json.loads(argv[5]) == REQUEST
    assert argv[6] == "https://ssm.eu-west-1.amazonaws.com"
    assert len(argv) == 7


def test_new_plugin_reads_the_session_from_the_environment() -> None:
    argv, env = invocation((1, 2, 650, 0))
    assert argv[1] == SESSION_ENV_VAR
    assert json.loads(env[SESSION_ENV_VAR]) == SESSION
    assert not any("secret-token-value" in part for part in argv)


def test_old_plugin_gets_the_session_in_argv() -> None:
    for version in (ENV_VAR_PLUGIN_MIN, (1, 2, 331, 0), ()):
        argv, env = invocation(version)
        assert json.loads(argv[1]) == SESSION, version
        assert SESSION_ENV_VAR not in env


def test_first_version_after_the_cut_uses_the_environment() -> None:
    argv, _ = invocation((1, 2, 497, 1))
    assert argv[1] == SESSION_ENV_VAR
