"""junit.xml as CI reads it: one test case per stage, rendered from a run value."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from prodclone.check.model import CheckRun, Status
from prodclone.check.report import MAX_DETAIL_LINES, render_junit


def a_run() -> CheckRun:
    run = CheckRun(
        app="shop",
        clone_db="shop_prod_clone",
        fresh_db="shop_fresh",
        started_at=datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC),
        report_dir=Path("report"),
        seconds=61.25,
    )
    run.stage("reset").passed("restored in 2.0s")
    run.stage("reset").seconds = 2.0
    run.stage("boot").skip("no boot command")
    run.stage("migrate").fail("2 statements rewrote big tables", "ALTER TABLE a", "ALTER TABLE b")
    run.stage("data").warn("orders: 3 rows fewer", "orders 20000 -> 19997")
    run.stage("fresh").status = Status.INTERRUPTED
    return run


def parsed(run: CheckRun) -> ET.Element:
    text = render_junit(run)
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>\n')
    return ET.fromstring(text.split("\n", 1)[1])


def test_suite_counts() -> None:
    suite = parsed(a_run()).find("testsuite")
    assert suite is not None
    assert suite.attrib == {
        "name": "refactor-check",
        "tests": "10",
        "failures": "1",
        "errors": "1",
        # boot skipped, and the six stages never run
        "skipped": "6",
        "time": "61.250",
        "timestamp": "2026-03-01T12:00:05+00:00",
    }


def test_one_case_per_stage_in_order_with_its_outcome() -> None:
    cases = list(parsed(a_run()).iter("testcase"))
    assert [case.get("name") for case in cases][:3] == [
        "1. reset: Reset the clone from the dump",
        "2. boot: Boot check: the running release's code against the pre-migration clone",
        "3. baseline: Baseline: row counts and column fingerprints by table OID",
    ]
    assert {case.get("classname") for case in cases} == {"refactor-check.shop"}
    by_key = {str(case.get("name")).split(":")[0].split(". ")[1]: case for case in cases}

    reset = by_key["reset"]
    assert reset.get("time") == "2.000"
    assert [child.tag for child in reset] == ["system-out"]
    assert reset[0].text == "restored in 2.0s"

    failure = by_key["migrate"].find("failure")
    assert failure is not None
    assert failure.attrib == {"message": "2 statements rewrote big tables", "type": "migrate"}
    assert failure.text == "ALTER TABLE a\nALTER TABLE b"

    # A warning passes in CI, and says what it found.
    assert [child.tag for child in by_key["data"]] == ["system-out"]

    error = by_key["fresh"].find("error")
    assert error is not None and error.attrib == {"message": "interrupted", "type": "interrupted"}

    skipped = by_key["boot"].find("skipped")
    assert skipped is not None and skipped.get("message") == "no boot command"
    never = by_key["smoke"].find("skipped")
    assert never is not None and never.get("message") == "not run"


def test_failure_details_are_cut_and_markup_is_escaped() -> None:
    run = a_run()
    stage = run.stage("schema")
    stage.fail('<table> & "quotes"', *(f"line {n} <x>" for n in range(MAX_DETAIL_LINES + 50)))
    failure = parsed(run).iter("failure")
    schema = next(f for f in failure if f.get("type") == "schema")
    assert schema.get("message") == '<table> & "quotes"'
    assert schema.text is not None
    assert len(schema.text.splitlines()) == MAX_DETAIL_LINES
    assert schema.text.splitlines()[-1] == f"line {MAX_DETAIL_LINES - 1} <x>"
