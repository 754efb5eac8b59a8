"""A create that AWS carried out but answered with an error still gets cleaned up.

The moto server runs in this process: its create calls are wrapped so the
resource is really made, and the answer is an error all the same. With one
attempt the client sees that error; with retries on, botocore retries the
throttled answer and AWS says the resource already exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.aws.conftest import Cloud
from tests.aws.test_faults import assert_nothing_left
from tests.conftest import Project

# moto warns that its Throttling error has no shape in the RDS model; botocore still reads it.
pytestmark = pytest.mark.filterwarnings("ignore:Exception\\(RDSClientError\\):UserWarning")

CREATES = {
    "snapshot": ("create_db_snapshot", "CreateDBSnapshot"),
    "instance": ("restore_db_instance_from_db_snapshot", "RestoreDBInstanceFromDBSnapshot"),
}
# (error code the create is answered with, AWS_MAX_ATTEMPTS, what the client finally sees)
ANSWERS = {
    "error": ("InternalFailure", "1", "InternalFailure"),
    "already-exists": ("Throttling", "3", "AlreadyExists"),
}


def _made_but_answered(
    monkeypatch: pytest.MonkeyPatch, method: str, code: str
) -> Callable[[], int]:
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import RDSBackend

    original = getattr(RDSBackend, method)
    calls = [0]

    def made_then_error(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        result = original(self, *args, **kwargs)
        if calls[0] == 1:
            raise RDSClientError(code, "the request was carried out; its answer was lost")
        return result

    monkeypatch.setattr(RDSBackend, method, made_then_error)
    return lambda: calls[0]


@pytest.mark.parametrize("answer", sorted(ANSWERS))
@pytest.mark.parametrize("kind", sorted(CREATES))
def test_resource_made_despite_an_error_answer_is_removed(
    clone_project: Project,
    cloud: Cloud,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    answer: str,
) -> None:
    method, operation = CREATES[kind]
    code, attempts, seen = ANSWERS[answer]
    calls = _made_but_answered(monkeypatch, method, code)
    env = {**cloud.env, "AWS_MAX_ATTEMPTS": attempts}
    result = clone_project.run("db.clone-prod", "--yes", env=env)
    assert result.returncode == 1, result.stderr
    assert f"prodclone: AWS refused {operation}: " in result.stderr
    assert seen in result.stderr
    # One call when the error is final; a retry (answered "already exists") otherwise.
    assert calls() == 1 if answer == "error" else calls() >= 2
    assert f"the create answered with an error, but {kind} prodclone-" in result.stdout
    assert f"cleanup: {kind} prodclone-" in result.stdout
    assert "CLEANUP FAILED" not in result.stderr
    assert_nothing_left(clone_project, cloud)
