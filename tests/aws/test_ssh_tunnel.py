"""`tunnel: ssh`: the dump goes through Fabric's forward_local and a (fake) bastion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.aws.conftest import Cloud, aws_settings
from tests.conftest import Project
from tests.fakes.fake_ssh import FakeBastion, write_ssh_home


@pytest.fixture
def bastion(cloud: Cloud, tmp_path: Path) -> Iterator[tuple[FakeBastion, Path]]:
    import paramiko  # type: ignore[import-untyped]

    home = tmp_path / "home"
    placeholder = paramiko.RSAKey.generate(1024)
    server = FakeBastion(cloud.env["FAKE_PLUGIN_TARGET_SOCKET"], placeholder)
    server.client_key = write_ssh_home(home, "bastion.test", server.port)
    server.start()
    yield server, home
    server.stop()


def test_dump_through_an_ssh_bastion(
    project: Project, cloud: Cloud, bastion: tuple[FakeBastion, Path]
) -> None:
    server, home = bastion
    project.configure(aws_settings(tunnel="ssh", bastion="bastion.test"))
    result = project.run("db.clone-prod", "--yes", env={**cloud.env, "HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert len(list((project.root / "dump").glob("prod-*.dump"))) == 1
    assert server.destinations, "no forward went through the bastion"
    # Every forward asked for the throwaway instance's endpoint, never anything else.
    hosts = {host for host, _ in server.destinations}
    assert len(hosts) == 1 and next(iter(hosts)).startswith("prodclone-")
    assert cloud.instances() == [] and cloud.snapshots() == []
    assert cloud.ssm.started == []


def test_unreachable_bastion_is_one_line_and_cleans_up(project: Project, cloud: Cloud) -> None:
    project.configure(aws_settings(tunnel="ssh", bastion="tester@127.0.0.1:1"))
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert result.returncode == 1
    assert "prodclone: cannot open an SSH connection to the bastion" in result.stderr
    assert cloud.instances() == [] and cloud.snapshots() == []
