"""docs/iam-policy.json allows every AWS call the tool makes, and no mutation outside ours."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.aws.conftest import BASTION, REGION, SOURCE, Cloud
from tests.aws.iam_eval import (
    DEFAULT_SESSION_DOCUMENT,
    Policy,
    Request,
    requests_from_log,
    session_document,
)
from tests.conftest import REPO, Project

ACCOUNT = "123456789012"  # moto's default account
USERID = "tester"  # the fake SSM endpoint names sessions "tester-..."


@pytest.fixture
def policy() -> Policy:
    return Policy.load(REPO / "docs" / "iam-policy.json", **{"aws:userid": USERID})


def _check(policy: Policy, log: Path, tagged: set[str]) -> list[Request]:
    requests = requests_from_log(log.read_text().splitlines(), REGION, ACCOUNT, tagged)
    denied = [r for r in requests if not policy.allows(r)]
    assert denied == []
    return requests


def test_policy_allows_every_call_of_a_clone_run(
    clone_project: Project, cloud: Cloud, policy: Policy
) -> None:
    result = clone_project.run("db.clone-prod", "--yes", env=cloud.env)
    assert result.returncode == 0, result.stderr
    requests = _check(policy, cloud.call_log, set())
    actions = {r.action for r in requests}
    assert {
        "sts:GetCallerIdentity",
        "rds:CreateDBSnapshot",
        "rds:RestoreDBInstanceFromDBSnapshot",
        "rds:ModifyDBInstance",
        "rds:DeleteDBInstance",
        "rds:DeleteDBSnapshot",
        "ssm:StartSession",
        "ssm:TerminateSession",
    } <= actions
    # new-snapshot, as configured, is the route every run took before the others existed.
    assert "rds:RestoreDBInstanceToPointInTime" not in actions


def test_policy_allows_every_call_of_list_clones_delete(
    clone_project: Project,
    estate: Cloud,
    policy: Policy,
) -> None:
    result = clone_project.run("db.list-clones", "--delete", "--yes", env=estate.env)
    assert result.returncode == 0, result.stderr
    requests = _check(policy, estate.call_log, {"prodclone-old"})
    assert {"rds:DeleteDBInstance", "rds:DeleteDBSnapshot"} <= {r.action for r in requests}


def test_policy_denies_mutations_outside_ours(policy: Policy) -> None:
    def db(name: str) -> str:
        return f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{name}"

    ours = frozenset({"prodclone:run"})
    assert not policy.allows(Request("rds:DeleteDBInstance", (db(SOURCE),), resource_tags=ours))
    assert not policy.allows(Request("rds:ModifyDBInstance", (db(SOURCE),)))
    assert not policy.allows(Request("rds:DeleteDBInstance", (db("prodclone-x"),)))
    assert not policy.allows(
        Request("rds:DeleteDBSnapshot", (f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:nightly",))
    )
    assert not policy.allows(
        Request("ssm:TerminateSession", (f"arn:aws:ssm:{REGION}:{ACCOUNT}:session/alice-1",))
    )
    assert policy.allows(Request("rds:DeleteDBInstance", (db("prodclone-x"),), resource_tags=ours))


def test_policy_denies_cluster_mutations_outside_ours(policy: Policy) -> None:
    def cluster(name: str) -> str:
        return f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:{name}"

    def cluster_snapshot(name: str) -> str:
        return f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-snapshot:{name}"

    ours = frozenset({"prodclone:run"})
    for action in ("rds:ModifyDBCluster", "rds:DeleteDBCluster"):
        assert not policy.allows(Request(action, (cluster("prod-aurora"),), resource_tags=ours))
        assert not policy.allows(Request(action, (cluster("prodclone-x"),)))
        assert policy.allows(Request(action, (cluster("prodclone-x"),), resource_tags=ours))
    assert not policy.allows(
        Request("rds:DeleteDBClusterSnapshot", (cluster_snapshot("nightly"),), resource_tags=ours)
    )
    assert not policy.allows(
        Request("rds:DeleteDBClusterSnapshot", (cluster_snapshot("prodclone-x"),))
    )
    # An instance may be added only to our cluster, and a snapshot taken only into our name.
    assert not policy.allows(
        Request(
            "rds:CreateDBInstance",
            (f"arn:aws:rds:{REGION}:{ACCOUNT}:db:prodclone-x", cluster("prod-aurora")),
        )
    )
    assert not policy.allows(
        Request(
            "rds:CreateDBClusterSnapshot", (cluster("prod-aurora"), cluster_snapshot("nightly"))
        )
    )


def _start_session(document: str, target: str = BASTION) -> Request:
    """StartSession as AWS authorises it; no document name means the default shell."""
    instance = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{target}"
    arn = session_document(REGION, ACCOUNT, document or DEFAULT_SESSION_DOCUMENT)
    return Request("ssm:StartSession", (instance, arn) if document else (instance,), document=arn)


@pytest.mark.parametrize(
    "document", ["AWS-StartPortForwardingSession", "AWS-StartPortForwardingSessionToRemoteHost"]
)
def test_policy_allows_port_forwarding_sessions(policy: Policy, document: str) -> None:
    assert policy.allows(_start_session(document))


@pytest.mark.parametrize(
    "document",
    [
        "",  # no document: Session Manager's default, an interactive shell
        DEFAULT_SESSION_DOCUMENT,
        "AWS-StartInteractiveCommand",
        "AWS-StartSSHSession",
        "AWS-StartNonInteractiveCommand",
    ],
    ids=["no-document", "shell", "interactive-command", "ssh", "non-interactive-command"],
)
def test_policy_opens_no_shell_on_any_instance(policy: Policy, document: str) -> None:
    """Without the ssm:SessionDocumentAccessCheck condition, a StartSession naming no
    document would open a shell on every managed instance `instance/*` allows."""
    assert not policy.allows(_start_session(document))
    assert not policy.allows(_start_session(document, target="i-0fedcba9876543210"))
