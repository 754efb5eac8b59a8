"""`prodclone.aws`: the source RDS instance and how to reach its throwaway copy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prodclone.settings.reader import Reader

AWS_DEFAULTS: dict[str, Any] = {
    "region": "",
    "profile": "",
    "source_instance": "",
    "database": "",
    "instance_class": "db.t4g.small",
    "tunnel": "ssm",
    "bastion": "",
    "ssm_plugin": "session-manager-plugin",
    "subnet_group": "",
    "security_groups": "",
    "timeout_minutes": 90,
}

TUNNELS = ("ssm", "ssh", "direct")


@dataclass(frozen=True)
class AwsSettings:
    region: str
    profile: str
    source_instance: str
    database: str
    instance_class: str
    tunnel: str
    bastion: str
    ssm_plugin: str
    subnet_group: str
    security_groups: tuple[str, ...]
    timeout_minutes: int


def parse_aws(reader: Reader) -> AwsSettings:
    return AwsSettings(
        region=reader.text("region"),
        profile=reader.text("profile"),
        source_instance=reader.text("source_instance"),
        database=reader.text("database"),
        instance_class=reader.text("instance_class") or "db.t4g.small",
        tunnel=reader.choice("tunnel", TUNNELS, "ssm"),
        bastion=reader.text("bastion"),
        ssm_plugin=reader.text("ssm_plugin") or "session-manager-plugin",
        subnet_group=reader.text("subnet_group"),
        security_groups=reader.text_list("security_groups"),
        timeout_minutes=reader.whole("timeout_minutes", 90, minimum=1),
    )
