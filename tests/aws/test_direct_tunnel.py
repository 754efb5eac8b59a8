"""`tunnel: direct`: no tunnel, the instance's endpoint is reachable as it is (VPN)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.aws.conftest import Cloud, aws_settings
from tests.conftest import Project
from tests.fakes.tcp_relay import TcpToUnixRelay


@pytest.fixture
def reachable_endpoints(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[TcpToUnixRelay]:
    """moto (in this process) reports throwaway instances at a local port leading to Postgres."""
    from moto.rds.models import DBInstance

    relay = TcpToUnixRelay(cloud.env["FAKE_PLUGIN_TARGET_SOCKET"]).start()
    original = DBInstance.endpoint

    def endpoint(self: Any) -> dict[str, Any]:
        if self.db_instance_identifier.startswith("prodclone-"):
            return {"Address": "127.0.0.1", "Port": relay.port}
        return dict(original.fget(self))  # type: ignore[attr-defined]

    monkeypatch.setattr(DBInstance, "endpoint", property(endpoint))
    yield relay
    relay.stop()


def test_dump_without_a_tunnel(
    project: Project, cloud: Cloud, reachable_endpoints: TcpToUnixRelay
) -> None:
    project.configure(aws_settings(tunnel="direct", bastion=""))
    result = project.run("db.clone-prod", "--yes", "--jobs", "2", env=cloud.env)
    assert result.returncode == 0, result.stderr
    assert "tunnel     direct" in result.stdout
    # The size query plus pg_dump's leader and two workers all went to the endpoint.
    assert reachable_endpoints.connections >= 4
    dumps = list((project.root / "dump").glob("prod-*.dump"))
    assert len(dumps) == 1 and (dumps[0] / "toc.dat").exists()
    assert cloud.ssm.started == []
    assert cloud.instances() == [] and cloud.snapshots() == []
