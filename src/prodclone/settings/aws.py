"""`prodclone.aws`: the source RDS instance and how to reach its throwaway copy."""

from __future__ import annotations

from dataclasses import dataclass

from prodclone.settings.reader import Reader

TUNNELS = ("ssm", "ssh", "direct")
RESTORE_ROUTES = ("auto", "point-in-time", "latest-snapshot", "new-snapshot")
# The throwaway's class when none is set: the smallest each kind accepts (Aurora
# PostgreSQL has no db.t4g.small; db.t4g.medium is its smallest provisioned class).
INSTANCE_CLASS_DEFAULT = "db.t4g.small"
AURORA_CLASS_DEFAULT = "db.t4g.medium"


@dataclass(frozen=True)
class AwsSettings:
    region: str
    profile: str
    source_instance: str
    source_cluster: str  # an Aurora PostgreSQL cluster, instead of source_instance
    restore_from: str  # one of RESTORE_ROUTES
    database: str
    instance_class: str
    tunnel: str
    bastion: str
    ssm_plugin: str
    subnet_group: str
    security_groups: tuple[str, ...]
    timeout_minutes: int
    local_port: int  # 0: any free port
    tunnel_ready_seconds: int
    poll_max_seconds: float  # the longest pause between two status checks
    dump_compression: str  # pg_dump --compress value; "" keeps pg_dump's default


def parse_aws(reader: Reader) -> AwsSettings:
    return AwsSettings(
        region=reader.text("region"),
        profile=reader.text("profile"),
        source_instance=reader.text("source_instance"),
        source_cluster=_source_cluster(reader),
        restore_from=reader.choice("restore_from", RESTORE_ROUTES),
        database=reader.text("database"),
        instance_class=reader.text("instance_class")
        or (AURORA_CLASS_DEFAULT if reader.text("source_cluster") else INSTANCE_CLASS_DEFAULT),
        tunnel=reader.choice("tunnel", TUNNELS),
        bastion=reader.text("bastion"),
        ssm_plugin=reader.text("ssm_plugin", or_default=True),
        subnet_group=reader.text("subnet_group"),
        security_groups=reader.text_list("security_groups"),
        timeout_minutes=reader.whole("timeout_minutes", minimum=1),
        local_port=_port(reader),
        tunnel_ready_seconds=reader.whole("tunnel_ready_seconds", minimum=1),
        poll_max_seconds=reader.number("poll_max_seconds", minimum=0.05),
        dump_compression=_compression(reader),
    )


def _source_cluster(reader: Reader) -> str:
    cluster = reader.text("source_cluster")
    if cluster and reader.text("source_instance"):
        raise reader.error(
            "source_cluster",
            "is set together with prodclone.aws.source_instance; set only one: "
            "source_instance for an RDS instance, source_cluster for an Aurora cluster",
        )
    return cluster


def _port(reader: Reader) -> int:
    port = reader.whole("local_port", minimum=0)
    if port > 65535:
        raise reader.error(
            "local_port", f"must be a TCP port up to 65535, or 0 for any (got {port})"
        )
    return port


def _compression(reader: Reader) -> str:
    value = reader.text("dump_compression")
    method = value.split(":", 1)[0]
    if method not in ("", "gzip", "lz4", "zstd", "none"):
        raise reader.error(
            "dump_compression",
            f"must be gzip, lz4, zstd or none, with an optional :level (got {value!r})",
        )
    return value
