"""What db.clone-prod clones and how: the source in AWS and the way to its throwaway copy."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CloneTarget:
    """Built once by the task from `prodclone.aws`, defaults applied; "" means not set.

    `source_cluster` names an Aurora cluster instead of `source_instance`;
    `restore_from` is one of the routes (`auto`, `point-in-time`, ...); `tunnel` is
    `ssm`, `ssh` or `direct`; `local_port` 0 takes any free port; `poll_max_seconds`
    is the longest pause between two status checks; `dump_compression` is pg_dump's
    `--compress` value ("" keeps pg_dump's default).
    """

    region: str
    profile: str
    source_instance: str
    source_cluster: str
    restore_from: str
    database: str
    instance_class: str
    tunnel: str
    bastion: str
    ssm_plugin: str
    subnet_group: str
    security_groups: tuple[str, ...]
    timeout_minutes: int
    local_port: int
    tunnel_ready_seconds: int
    poll_max_seconds: float
    dump_compression: str
