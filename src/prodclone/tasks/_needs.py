"""What db.clone-prod needs set on this machine, checked all at once before any AWS call.

A first try usually lacks several settings; naming them one run at a time
(each run paying for the AWS calls before the next check) wastes the user's
afternoon, so every missing one goes into a single message.
"""

from __future__ import annotations

import os
import shutil

from prodclone.errors import SettingsError
from prodclone.settings import AwsSettings
from prodclone.settings.reader import env_var_for


def _key(name: str, problem: str = "is not set") -> str:
    path = f"prodclone.aws.{name}"
    return f"{path} {problem} ({env_var_for(path)})"


def missing_local_settings(aws: AwsSettings) -> list[str]:
    """Each setting that is missing or names something absent here, with how to set it."""
    import boto3
    import botocore.exceptions

    missing = []
    if not aws.source_instance and not aws.source_cluster:
        missing.append(
            f"{_key('source_instance')}: the production RDS instance's id "
            f"(or {_key('source_cluster', 'for an Aurora cluster')})"
        )
    try:
        # Local only: the region from the settings, AWS_REGION, or the profile's config.
        region = aws.region or os.environ.get("AWS_REGION") or ""
        region = region or boto3.Session(profile_name=aws.profile or None).region_name or ""
        if not region:
            missing.append(f"{_key('region')}: set it or AWS_REGION to the source's region")
    except botocore.exceptions.ProfileNotFound:
        missing.append(
            f"{_key('profile', 'names no configured profile')}: "
            "fix it or run `aws configure --profile ...`"
        )
    if aws.tunnel == "ssm" and not aws.bastion:
        missing.append(f"{_key('bastion')}: with tunnel ssm, the EC2 instance id of a bastion")
    if aws.tunnel == "ssh" and not aws.bastion:
        missing.append(f"{_key('bastion')}: with tunnel ssh, the SSH host")
    if aws.tunnel == "ssm" and shutil.which(aws.ssm_plugin) is None:
        missing.append(
            f"{_key('ssm_plugin', f'{aws.ssm_plugin!r} is not on PATH')}: "
            "install the AWS Session Manager plugin or name it there"
        )
    return missing


def require_local_settings(aws: AwsSettings) -> None:
    missing = missing_local_settings(aws)
    if missing:
        raise SettingsError("db.clone-prod needs, before it calls AWS: " + "; ".join(missing))
