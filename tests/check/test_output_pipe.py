"""`inv refactor-check | head`: the run ends as it would, without a BrokenPipe traceback."""

from __future__ import annotations

import json

from tests.check.conftest import CheckProject
from tests.pipes import assert_no_traceback, inv_into_closed_pipe


def test_refactor_check_into_a_closed_pipe_still_writes_its_report(checker: CheckProject) -> None:
    checker.configure()
    report = checker.root / "report"
    done = inv_into_closed_pipe(
        checker.root,
        *("refactor-check", "--skip-smoke", "--dump", str(checker.dump), "--report", str(report)),
    )
    assert_no_traceback(done.stderr)
    assert done.returncode == 0, done.stderr
    assert json.loads((report / "report.json").read_text())["passed"] is True
