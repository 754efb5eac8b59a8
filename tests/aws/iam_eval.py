"""A small evaluator for docs/iam-policy.json: enough of IAM to judge the calls we make.

Supports Allow statements with Action/Resource wildcards, `${aws:userid}` in
resources, StringLike conditions on `aws:RequestTag/...` and
`aws:ResourceTag/...`, and `BoolIfExists` on `ssm:SessionDocumentAccessCheck`
(the only kinds the policy uses).

Session Manager and that condition: `StartSession` names a session document, or
none, and then runs the default shell document `SSM-SessionManagerRunShell`.
Only a statement carrying `ssm:SessionDocumentAccessCheck` = true makes AWS check
that the caller may use the document the session really runs; without it, a
request naming no document opens a shell on any instance the statement allows.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DOCUMENT_CHECK = "ssm:SessionDocumentAccessCheck"
DEFAULT_SESSION_DOCUMENT = "SSM-SessionManagerRunShell"


def session_document(region: str, account: str, name: str) -> str:
    """The ARN of a session document: AWS-owned ones have no account in it."""
    owner = "" if name.startswith(("AWS-", "SSM-")) else account
    return f"arn:aws:ssm:{region}:{owner}:document/{name}"


@dataclass(frozen=True)
class Request:
    action: str  # "rds:DeleteDBInstance"
    resources: tuple[str, ...]
    request_tags: frozenset[str] = frozenset()
    resource_tags: frozenset[str] = frozenset()
    document: str = ""  # ssm:StartSession: the ARN of the session document it runs


@dataclass
class Policy:
    statements: list[dict[str, Any]]
    variables: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, **variables: str) -> Policy:
        return cls(json.loads(path.read_text())["Statement"], dict(variables))

    def allows(self, request: Request) -> bool:
        # Every resource of the request must be allowed by some statement.
        return all(
            any(self._statement_allows(s, request, resource) for s in self.statements)
            for resource in request.resources
        )

    def _statement_allows(self, statement: dict[str, Any], request: Request, resource: str) -> bool:
        if statement.get("Effect") != "Allow":
            return False
        if not any(_like(request.action, a) for a in _many(statement["Action"])):
            return False
        patterns = [self._substitute(r) for r in _many(statement["Resource"])]
        if not any(_like(resource, p) for p in patterns):
            return False
        for operator, tests in statement.get("Condition", {}).items():
            if operator == "BoolIfExists" and set(tests) == {DOCUMENT_CHECK}:
                if str(tests[DOCUMENT_CHECK]).lower() != "true":
                    return False
                # AWS checks the document the session runs, named or the default one.
                if not self._document_allowed(statement, request):
                    return False
                continue
            if operator != "StringLike":
                return False
            for key in tests:
                if key.startswith("aws:RequestTag/"):
                    if key.removeprefix("aws:RequestTag/") not in request.request_tags:
                        return False
                elif key.startswith("aws:ResourceTag/"):
                    if key.removeprefix("aws:ResourceTag/") not in request.resource_tags:
                        return False
                else:
                    return False
        return True

    def _document_allowed(self, statement: dict[str, Any], request: Request) -> bool:
        if not request.document:
            return False
        patterns = [self._substitute(r) for r in _many(statement["Resource"])]
        return any(_like(request.document, p) for p in patterns)

    def _substitute(self, pattern: str) -> str:
        for name, value in self.variables.items():
            pattern = pattern.replace("${" + name + "}", value)
        return pattern


def _many(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _like(value: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def requests_from_log(
    lines: Iterable[str], region: str, account: str, tagged: set[str]
) -> list[Request]:
    """Turn recorded calls (PRODCLONE_AWS_CALL_LOG) into what IAM would authorise.

    `tagged` names resources known to carry prodclone:run (created with it, in the
    log or by the test), by name or, for clusters and cluster snapshots, by ARN; it
    grows as the log shows them being created.
    """
    found: list[Request] = []

    def db(name: str) -> str:
        return f"arn:aws:rds:{region}:{account}:db:{name}"

    def snap(name: str) -> str:
        return f"arn:aws:rds:{region}:{account}:snapshot:{name}"

    def cluster(name: str) -> str:
        return f"arn:aws:rds:{region}:{account}:cluster:{name}"

    def cluster_snap(name: str) -> str:
        return f"arn:aws:rds:{region}:{account}:cluster-snapshot:{name}"

    def created(action: str, made: str, also: tuple[str, ...], tags: frozenset[str]) -> None:
        """A create call, with the tagging it implies; what it makes with our tag is ours."""
        found.append(Request(action, (made, *also), tags))
        found.append(Request("rds:AddTagsToResource", (made,), tags))
        if "prodclone:run" in tags:
            tagged.add(made)

    def changed(action: str, arn: str) -> None:
        marks = frozenset({"prodclone:run"}) if arn in tagged else frozenset()
        found.append(Request(action, (arn,), resource_tags=marks))

    for line in lines:
        call = json.loads(line)
        action = f"{call['service']}:{call['action']}"
        params = call["params"]
        tags = frozenset(call["tag_keys"])
        if call["service"] == "ssm" and call["action"] == "StartSession":
            instance = f"arn:aws:ec2:{region}:{account}:instance/{params['Target']}"
            named = params.get("DocumentName", "")
            document = session_document(region, account, named or DEFAULT_SESSION_DOCUMENT)
            found.append(
                Request(
                    action,
                    (instance, document) if named else (instance,),
                    document=document,
                )
            )
        elif call["service"] == "ssm" and call["action"] == "TerminateSession":
            found.append(
                Request(action, (f"arn:aws:ssm:{region}:{account}:session/{params['SessionId']}",))
            )
        elif call["action"] == "CreateDBSnapshot":
            snapshot = params["DBSnapshotIdentifier"]
            found.append(
                Request(action, (db(params["DBInstanceIdentifier"]), snap(snapshot)), tags)
            )
            found.append(Request("rds:AddTagsToResource", (snap(snapshot),), tags))
            if "prodclone:run" in tags:
                tagged.add(snapshot)
        elif call["action"] == "RestoreDBInstanceFromDBSnapshot":
            instance = params["DBInstanceIdentifier"]
            found.append(
                Request(action, (db(instance), snap(params["DBSnapshotIdentifier"])), tags)
            )
            found.append(Request("rds:AddTagsToResource", (db(instance),), tags))
            if "prodclone:run" in tags:
                tagged.add(instance)
        elif call["action"] == "RestoreDBInstanceToPointInTime":
            created(
                action,
                db(params["TargetDBInstanceIdentifier"]),
                (db(params["SourceDBInstanceIdentifier"]),),
                tags,
            )
        elif call["action"] == "CreateDBClusterSnapshot":
            created(
                action,
                cluster_snap(params["DBClusterSnapshotIdentifier"]),
                (cluster(params["DBClusterIdentifier"]),),
                tags,
            )
        elif call["action"] == "RestoreDBClusterToPointInTime":
            created(
                action,
                cluster(params["DBClusterIdentifier"]),
                (cluster(params["SourceDBClusterIdentifier"]),),
                tags,
            )
        elif call["action"] == "RestoreDBClusterFromSnapshot":
            created(
                action,
                cluster(params["DBClusterIdentifier"]),
                (cluster_snap(params["SnapshotIdentifier"]),),
                tags,
            )
        elif call["action"] == "CreateDBInstance":
            created(
                action,
                db(params["DBInstanceIdentifier"]),
                (cluster(params["DBClusterIdentifier"]),),
                tags,
            )
        elif call["action"] in ("ModifyDBCluster", "DeleteDBCluster"):
            changed(action, cluster(params["DBClusterIdentifier"]))
        elif call["action"] == "DeleteDBClusterSnapshot":
            changed(action, cluster_snap(params["DBClusterSnapshotIdentifier"]))
        elif call["action"] == "AddTagsToResource":
            found.append(Request(action, (params["ResourceName"],), tags))
        elif call["action"] in ("ModifyDBInstance", "DeleteDBInstance"):
            instance = params["DBInstanceIdentifier"]
            known = instance in tagged or db(instance) in tagged
            marks = frozenset({"prodclone:run"}) if known else frozenset()
            found.append(Request(action, (db(instance),), resource_tags=marks))
        elif call["action"] == "DeleteDBSnapshot":
            snapshot = params["DBSnapshotIdentifier"]
            marks = frozenset({"prodclone:run"}) if snapshot in tagged else frozenset()
            found.append(Request(action, (snap(snapshot),), resource_tags=marks))
        else:
            # Reads: describe/list calls on any resource, and sts:GetCallerIdentity.
            found.append(Request(action, ("*",)))
    return found
