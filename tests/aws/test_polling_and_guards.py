"""Polling (tenacity) and the preflight guards, called in-process against moto."""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

from prodclone.aws.polling import Observation, WaitPolicy, poll_until
from prodclone.clone.plan import throwaway_name
from prodclone.errors import ProdcloneError
from tests.aws.conftest import Cloud


def _client_error(code: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": code}}, "Describe")


def _sequence(*steps: Any) -> Any:
    """A `look` that replays steps: an Observation is returned, an exception raised."""
    remaining = list(steps)
    calls: list[int] = []

    def look() -> Observation:
        calls.append(1)
        step = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        if isinstance(step, BaseException):
            raise step
        return step  # type: ignore[no-any-return]

    look.calls = calls  # type: ignore[attr-defined]
    return look


def test_waits_through_statuses_and_throttling_until_done() -> None:
    seen: list[str] = []
    look = _sequence(
        Observation("creating", False),
        _client_error("Throttling"),
        _client_error("RequestLimitExceeded"),
        Observation("backing-up", False),
        Observation("available", True),
    )
    result = poll_until(
        "instance x",
        look,
        WaitPolicy(30, 0.05),
        on_observe=lambda o, _: seen.append(o.status),
    )
    assert result.status == "available"
    assert seen == ["creating", "backing-up", "available"]


def test_failure_state_stops_at_once_with_the_reason() -> None:
    look = _sequence(Observation("incompatible-restore", False, "storage too small"))
    with pytest.raises(ProdcloneError, match="entered state 'incompatible-restore': storage"):
        poll_until(
            "instance x",
            look,
            WaitPolicy(30, 0.05),
            failure_states={"incompatible-restore"},
        )
    assert len(look.calls) == 1


def test_other_errors_are_not_retried() -> None:
    look = _sequence(_client_error("AccessDenied"))
    with pytest.raises(botocore.exceptions.ClientError):
        poll_until("instance x", look, WaitPolicy(30, 0.05))
    assert len(look.calls) == 1


def test_deadline_names_the_last_status() -> None:
    look = _sequence(Observation("modifying", False))
    with pytest.raises(ProdcloneError, match=r"gave up waiting for instance x .*'modifying'"):
        poll_until("instance x", look, WaitPolicy(0.3, 0.05))
    assert len(look.calls) > 1


def test_a_throwaway_id_equal_to_the_source_is_refused() -> None:
    assert throwaway_name("20261124-120000-ab12", "prod-db") == "prodclone-20261124-120000-ab12"
    with pytest.raises(ProdcloneError, match="prodclone-same equals the source's; refusing"):
        throwaway_name("same", "prodclone-same")


def test_settings_from_env_vars(project: Any, cloud: Cloud) -> None:
    env = {
        **cloud.env,
        "INVOKE_PRODCLONE_AWS_SOURCE_INSTANCE": "prod-db",
        "INVOKE_PRODCLONE_AWS_REGION": "us-east-1",
        "INVOKE_PRODCLONE_AWS_BASTION": "i-0fedcba9876543210",
        "INVOKE_PRODCLONE_AWS_INSTANCE_CLASS": "db.t4g.medium",
        "INVOKE_PRODCLONE_AWS_SECURITY_GROUPS": "sg-1,sg-2",
    }
    result = project.run("db.clone-prod", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert "(db.t4g.medium," in result.stdout
    assert "security groups sg-1, sg-2" in result.stdout


def test_bad_setting_names_the_key(project: Any, cloud: Cloud) -> None:
    env = {**cloud.env, "INVOKE_PRODCLONE_AWS_DUMP_COMPRESSION": "brotli"}
    result = project.run("db.clone-prod", "--dry-run", env=env)
    assert result.returncode == 2
    assert "prodclone.aws.dump_compression must be gzip, lz4, zstd or none" in result.stderr
