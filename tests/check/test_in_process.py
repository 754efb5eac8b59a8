"""refactor-check run in the test process says what a real `inv refactor-check` says.

The check tests run it in-process (`CheckProject.check`); this pins that seam to the
real command on a run where every stage runs, some pass and some fail: the exit code,
every line printed and the report, once times, ports and the report's folder are set
aside.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.check.conftest import CheckProject, script

# What differs between two runs of the same check: durations, the run's own stamps.
VARYING = re.compile(r"\d+(\.\d+)?(s|ms)\b|\d{8}T\d{6}\w*|\d{4}-\d\d-\d\dT[\d:.+Z]+")


def steady(text: str, report: Path) -> str:
    text = VARYING.sub("N", text.replace(str(report), "REPORT"))
    # A duration of another length pads the table's columns and rules differently.
    return re.sub(r"[━─]+", "─", re.sub(r" +", " ", text))


# What the lock sampler saw depends on when its samples fell (the DDL watch's locks,
# which the summary names, do not); the app's pid is its own each run.
SAMPLED = {"samples", "locks", "slow_statements", "app_pid"}


def steady_json(value: Any, report: Path) -> Any:
    """The report's values with durations (its only floats), stamps and samples set aside."""
    if isinstance(value, dict):
        return {key: steady_json(item, report) for key, item in value.items() if key not in SAMPLED}
    if isinstance(value, list):
        return [steady_json(item, report) for item in value]
    if isinstance(value, float):
        return "N"
    return steady(value, report) if isinstance(value, str) else value


def by_source(text: str) -> tuple[list[str], list[str]]:
    """The app's lines (`[serve]`) and the rest, each in order: the app writes while the
    smoke commands run, so where its lines fall among theirs is the two processes' own."""
    lines = text.splitlines()
    app = [line for line in lines if line.lstrip().startswith("[serve]")]
    return [line for line in lines if not line.lstrip().startswith("[serve]")], app


def both_ways(checker: CheckProject, *args: str) -> None:
    real_report, here_report = checker.root / "real", checker.root / "here"
    flags = ("--dump", str(checker.dump), *args)
    # Both runs reset the clone from its template: the first would otherwise restore.
    assert checker.project.run("db.load-clone", "--dump", str(checker.dump)).returncode == 0
    # Wide enough that no table cell wraps: where a cell wraps depends on its durations.
    wide = {"COLUMNS": "1000"}
    real = checker.project.inv("refactor-check", *flags, "--report", str(real_report), env=wide)
    here = checker.project.run("refactor-check", *flags, "--report", str(here_report), env=wide)
    assert here.returncode == real.returncode, here.stdout + here.stderr
    for stream in ("stdout", "stderr"):
        real_text = steady(getattr(real, stream), real_report)
        here_text = steady(getattr(here, stream), here_report)
        assert by_source(here_text) == by_source(real_text), stream
    real_json = json.loads((real_report / "report.json").read_text())
    here_json = json.loads((here_report / "report.json").read_text())
    here_lines = json.dumps(steady_json(here_json, here_report), indent=1).splitlines()
    real_lines = json.dumps(steady_json(real_json, real_report), indent=1).splitlines()
    assert here_lines == real_lines


def test_a_check_is_the_same_both_ways(checker: CheckProject) -> None:
    # The flawed migration with --keep-going: every stage runs, passed or failed.
    checker.configure(commands={"migrate": script("migrate.py", "--pending", "flawed")})
    both_ways(checker, "--keep-going")
