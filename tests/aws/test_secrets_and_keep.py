"""The throwaway password stays secret; --keep-instance keeps the instance and says so."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.aws.conftest import PROD_PASSWORD, Cloud, all_cmdlines, aws_settings, start_inv
from tests.conftest import Project


@pytest.fixture
def passwords_set(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every master password the pipeline sets, as moto (in this process) receives it."""
    from moto.rds.models import RDSBackend

    seen: list[str] = []
    original = RDSBackend.modify_db_instance

    def recording(self: Any, identifier: str, db_kwargs: dict[str, Any]) -> Any:
        if db_kwargs.get("master_user_password"):
            seen.append(str(db_kwargs["master_user_password"]))
        return original(self, identifier, db_kwargs)

    monkeypatch.setattr(RDSBackend, "modify_db_instance", recording)
    return seen


def test_password_never_in_output_logs_or_argv(
    clone_project: Project, cloud: Cloud, passwords_set: list[str]
) -> None:
    # Each tunnelled connection stalls a moment, so pg_dump is alive while we look.
    env = {**cloud.env, "FAKE_PLUGIN_STALL_SECONDS": "1.5"}
    process = start_inv(clone_project, "db.clone-prod", "--yes", env=env)
    cmdlines: set[str] = set()
    while process.poll() is None:
        cmdlines.update(all_cmdlines())
        time.sleep(0.05)
    out, err = process.communicate()
    assert process.returncode == 0, err
    assert len(passwords_set) == 1
    password = passwords_set[0]
    assert any("pg_dump" in line and "--format=custom" in line for line in cmdlines)
    assert any("session_manager_plugin" in line for line in cmdlines)
    for text in (out, err, cloud.call_log.read_text(), *cmdlines):
        assert password not in text
        assert PROD_PASSWORD not in text


def test_keep_instance_keeps_it_and_says_how_to_remove_it(
    clone_project: Project, cloud: Cloud
) -> None:
    result = clone_project.run("db.clone-prod", "--yes", "--keep-instance", env=cloud.env)
    assert result.returncode == 0, result.stderr
    kept = cloud.instances()
    assert len(kept) == 1 and kept[0].startswith("prodclone-")
    assert "KEPT afterwards (--keep-instance)" in result.stdout  # the plan says so up front
    assert f"KEPT instance {kept[0]}" in result.stderr
    assert f"aws rds delete-db-instance --region us-east-1 --db-instance-identifier {kept[0]}" in (
        result.stderr
    )
    assert cloud.snapshots() == []
    tags = {
        t["Key"]: t["Value"]
        for t in cloud.rds.describe_db_instances(DBInstanceIdentifier=kept[0])["DBInstances"][0][
            "TagList"
        ]
    }
    assert tags["prodclone:keep"] == "true"
    assert tags["prodclone:source"] == "prod-db"


def test_managed_master_secret_is_switched_off_on_the_copy(
    project: Project, cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.rds.models import RDSBackend

    modifications: list[dict[str, Any]] = []
    original = RDSBackend.modify_db_instance

    def recording(self: Any, identifier: str, db_kwargs: dict[str, Any]) -> Any:
        modifications.append({"id": identifier, **db_kwargs})
        return original(self, identifier, db_kwargs)

    monkeypatch.setattr(RDSBackend, "modify_db_instance", recording)
    cloud.create_source(
        DBInstanceIdentifier="prod-managed",
        MasterUserPassword=None,
        ManageMasterUserPassword=True,
    )
    project.configure(aws_settings(source_instance="prod-managed"))
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert result.returncode == 0, result.stderr
    [change] = modifications
    assert change["id"].startswith("prodclone-")
    assert change["manage_master_user_password"] is False
    assert change["master_user_password"]
    assert change["apply_immediately"] is True


@pytest.fixture
def password_change_pending(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a password change, the next three looks at the instance show it still pending."""
    from moto.rds.models import RDSBackend
    from moto.rds.responses import RDSResponse

    pending: list[Any] = []  # the instance whose change is pending, and the looks left
    original_modify = RDSBackend.modify_db_instance
    original_describe = RDSResponse.describe_db_instances

    def modify(self: Any, identifier: str, db_kwargs: dict[str, Any]) -> Any:
        database: Any = original_modify(self, identifier, db_kwargs)
        if db_kwargs.get("master_user_password"):
            database.pending_modified_values = {"MasterUserPassword": "****"}
            pending[:] = [database, 3]
        return database

    def describe(self: Any) -> Any:
        if pending:
            database, looks = pending
            if looks == 0:
                database.pending_modified_values = {}
                pending.clear()
            else:
                pending[1] = looks - 1
        return original_describe(self)

    monkeypatch.setattr(RDSBackend, "modify_db_instance", modify)
    monkeypatch.setattr(RDSResponse, "describe_db_instances", describe)


def test_dump_waits_until_the_password_change_is_applied(
    clone_project: Project, cloud: Cloud, password_change_pending: None
) -> None:
    result = clone_project.run("db.clone-prod", "--yes", env=cloud.env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "available (password change pending)" in out
    assert out.index("password change pending") < out.index("==> tunnel")
    assert cloud.instances() == [] and cloud.snapshots() == []
