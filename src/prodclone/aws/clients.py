"""boto3 clients for one run, with the standard retry mode and an optional call log.

Endpoints come from boto3 itself, so `AWS_ENDPOINT_URL` and the per-service
`AWS_ENDPOINT_URL_SSM` keep working (the tests point them at moto and a fake
SSM endpoint).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prodclone.errors import ProdcloneError

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_ssm import SSMClient

# Set to a file path to append one JSON line per AWS API call (service, action,
# identifiers). Used by the test that checks docs/iam-policy.json allows every call;
# also handy to audit what a run did.
CALL_LOG_ENV = "PRODCLONE_AWS_CALL_LOG"

_IDENTIFIER_PARAMS = (
    "DBInstanceIdentifier",
    "DBSnapshotIdentifier",
    "SourceDBInstanceIdentifier",
    "TargetDBInstanceIdentifier",
    "DBClusterIdentifier",
    "DBClusterSnapshotIdentifier",
    "SourceDBClusterIdentifier",
    "SnapshotIdentifier",
    "ResourceName",
    "Target",
    "DocumentName",
    "SessionId",
)


@dataclass(frozen=True)
class AwsClients:
    rds: RDSClient
    ssm: SSMClient
    region: str
    profile: str
    account: str
    caller_arn: str


def connect_aws(region: str = "", profile: str = "") -> AwsClients:
    """Clients for `profile` and `region` ("": boto3's own choice, AWS_REGION first for the
    region); fails in one line without credentials."""
    import boto3
    import botocore.exceptions
    from botocore.config import Config

    try:
        # boto3 reads only AWS_DEFAULT_REGION; AWS_REGION is what the AWS CLI v2 and the
        # other SDKs read first, and what the docs promise.
        region_name = region or os.environ.get("AWS_REGION") or None
        session = boto3.Session(profile_name=profile or None, region_name=region_name)
    except botocore.exceptions.ProfileNotFound:
        raise ProdcloneError(
            f"AWS profile {profile!r} is not configured; fix prodclone.aws.profile "
            "or run `aws configure --profile ...`"
        ) from None
    chosen = session.region_name
    if not chosen:
        raise ProdcloneError(
            "no AWS region: set prodclone.aws.region (INVOKE_PRODCLONE_AWS_REGION) or AWS_REGION"
        )
    # Attempts stay at the standard mode's default unless AWS_MAX_ATTEMPTS says otherwise.
    config = Config(retries={"mode": "standard"}, connect_timeout=10)
    rds = session.client("rds", config=config)
    ssm = session.client("ssm", config=config)
    sts = session.client("sts", config=config)
    log_path = os.environ.get(CALL_LOG_ENV)
    if log_path:
        for client in (rds, ssm, sts):
            _log_calls(client, log_path)
    try:
        identity = sts.get_caller_identity()
    except botocore.exceptions.NoCredentialsError:
        raise ProdcloneError(
            "no AWS credentials found; log in (e.g. `aws sso login"
            + (f" --profile {profile}" if profile else "")
            + "`) or set AWS_PROFILE / prodclone.aws.profile"
        ) from None
    except botocore.exceptions.ClientError as exc:
        raise ProdcloneError(
            f"AWS rejected the credentials ({error_code(exc)}); log in again or check "
            "prodclone.aws.profile"
        ) from None
    except botocore.exceptions.EndpointConnectionError as exc:
        raise ProdcloneError(f"cannot reach AWS: {exc}") from None
    # The profile in use however it was chosen; the AWS CLI hands it to the SSM plugin.
    in_use = profile or os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
    return AwsClients(
        rds=rds,
        ssm=ssm,
        region=chosen,
        profile=in_use or "",
        account=str(identity.get("Account", "")),
        caller_arn=str(identity.get("Arn", "")),
    )


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


_log_lock = threading.Lock()


def _log_calls(client: Any, path: str) -> None:
    service = client.meta.service_model.service_name

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        entry = {
            "service": service,
            "action": model.name,
            "params": {k: params[k] for k in _IDENTIFIER_PARAMS if k in params},
            "tag_keys": sorted(tag["Key"] for tag in params.get("Tags", [])),
        }
        with _log_lock, open(path, "a") as handle:
            handle.write(json.dumps(entry) + "\n")

    client.meta.events.register("provide-client-params.*.*", record)
