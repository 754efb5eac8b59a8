"""The throwaway instance is restored with exactly the parameters the issue asks for.

moto keeps the source's settings on a restore whatever the request says, so the
request itself is checked, as moto (running in this process) receives it.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.aws.conftest import REGION, Cloud, aws_settings
from tests.conftest import Project


@pytest.fixture
def restores(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    from moto.rds.models import RDSBackend

    seen: list[dict[str, Any]] = []
    original = RDSBackend.restore_db_instance_from_db_snapshot

    def recording(self: Any, snapshot_id: str, overrides: dict[str, Any]) -> Any:
        seen.append(dict(overrides))
        return original(self, snapshot_id, overrides)

    monkeypatch.setattr(RDSBackend, "restore_db_instance_from_db_snapshot", recording)
    return seen


@pytest.fixture
def vpc_source(cloud: Cloud) -> tuple[str, str]:
    """A public, Multi-AZ, backed-up, deletion-protected source in its own subnet group;
    a second subnet group, clone-subnets, for a configured one."""
    ec2 = boto3.client(
        "ec2",
        endpoint_url=cloud.moto_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{n}.0/24", AvailabilityZone=f"{REGION}{z}")[
            "Subnet"
        ]["SubnetId"]
        for n, z in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName="prod-db", Description="db", VpcId=vpc)["GroupId"]
    for name in ("prod-subnets", "clone-subnets"):
        cloud.rds.create_db_subnet_group(
            DBSubnetGroupName=name, DBSubnetGroupDescription=name, SubnetIds=subnets
        )
    cloud.create_source(
        DBInstanceIdentifier="prod-vpc",
        DBSubnetGroupName="prod-subnets",
        VpcSecurityGroupIds=[group],
        PubliclyAccessible=True,
        MultiAZ=True,
        BackupRetentionPeriod=7,
        DeletionProtection=True,
    )
    return "prod-subnets", group


def test_restore_is_private_single_az_unprotected_without_backups_in_the_sources_network(
    project: Project, cloud: Cloud, vpc_source: tuple[str, str], restores: list[dict[str, Any]]
) -> None:
    subnet_group, security_group = vpc_source
    project.configure(aws_settings(source_instance="prod-vpc"))
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert result.returncode == 0, result.stderr
    [sent] = restores
    assert sent["db_instance_identifier"].startswith("prodclone-")
    assert sent["db_instance_class"] == "db.t4g.small"
    assert sent["publicly_accessible"] is False
    assert sent["multi_az"] is False
    assert sent["backup_retention_period"] == 0
    assert sent["deletion_protection"] is False
    assert sent["db_subnet_group_name"] == subnet_group
    assert sent["vpc_security_group_ids"] == [security_group]
    run = sent["db_instance_identifier"].removeprefix("prodclone-")
    tags = {tag["Key"]: tag["Value"] for tag in sent["tags"]}
    assert tags["prodclone:run"] == run
    assert tags["prodclone:source"] == "prod-vpc"
    assert {"prodclone:created-by", "prodclone:expires-at"} <= set(tags)
    assert cloud.instances() == [] and cloud.snapshots() == []


def test_configured_network_replaces_the_sources(
    project: Project, cloud: Cloud, vpc_source: tuple[str, str], restores: list[dict[str, Any]]
) -> None:
    project.configure(
        aws_settings(
            source_instance="prod-vpc",
            subnet_group="clone-subnets",
            security_groups=["sg-0aaa", "sg-0bbb"],
            instance_class="db.t4g.medium",
        )
    )
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert result.returncode == 0, result.stderr
    [sent] = restores
    assert sent["db_subnet_group_name"] == "clone-subnets"
    assert sent["vpc_security_group_ids"] == ["sg-0aaa", "sg-0bbb"]
    assert sent["db_instance_class"] == "db.t4g.medium"
