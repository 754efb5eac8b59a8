"""The verdict as report.md (for a pull request), report.json and junit.xml (for CI)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from prodclone.check.model import APP_LOG, FRESH_LOG, MIGRATE_LOG, CheckRun, StageResult, Status
from prodclone.local.appcmd import open_private

MAX_DETAIL_LINES = 200
MAX_LOCK_ROWS = 30
_MARKS = {
    Status.PASSED: "PASS",
    Status.FAILED: "FAIL",
    Status.SKIPPED: "skip",
    Status.NOT_RUN: "-",
    Status.INTERRUPTED: "INTERRUPTED",
}


def write_reports(run: CheckRun) -> list[Path]:
    run.report_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = []
    for name, text in (
        ("report.md", render_markdown(run)),
        ("report.json", render_json(run)),
        ("junit.xml", render_junit(run)),
    ):
        path = run.report_dir / name
        # 0600 whatever the umask or an earlier file's mode: a report quotes production rows.
        with open_private(path) as handle:
            handle.write(text)
        written.append(path)
    return written


def _duration(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(run: CheckRun) -> str:
    lines = [
        f"# refactor-check: {run.verdict}",
        "",
        f"- app: `{run.app}`; clone `{run.clone_db}`, fresh `{run.fresh_db}`",
        f"- dump: `{run.dump or '(none)'}`",
        f"- started: {run.started_at.isoformat(timespec='seconds')}; took "
        f"{_duration(run.seconds)} ({_duration(run.tool_seconds)} of it prodclone's own work, "
        "the rest the app's commands)",
    ]
    for log, what in (
        (MIGRATE_LOG, "the migrate command's output on the clone"),
        (FRESH_LOG, "the migrate command's output on the fresh database"),
        (APP_LOG, "the app's output during the smoke stage"),
    ):
        if (run.report_dir / log).exists():
            lines.append(f"- {what}: [{log}]({log})")
    if run.interrupted_at:
        lines.append(
            f"- interrupted during **{run.interrupted_at}**: the clone was left as it was; "
            "later stages did not run"
        )
    lines += ["", "| # | stage | result | time | summary |", "|---|---|---|---|---|"]
    for number, stage in enumerate(run.stages, start=1):
        lines.append(
            f"| {number} | {stage.key} | {_MARKS[stage.status]} | {_duration(stage.seconds)} "
            f"| {_cell(stage.summary)} |"
        )
    failed = run.failed
    if failed:
        lines += ["", "## Failed"]
        for stage in failed:
            lines += ["", f"### {stage.key}: {stage.title}", "", stage.summary]
            lines += _details(stage)
    migrate = run.stage("migrate")
    if migrate.figures:
        lines += ["", "## Migration: locks and timing", "", *_lock_lines(migrate)]
    data = run.stage("data")
    if data.figures.get("tables"):
        lines += ["", "## Data preservation (row counts by table OID)", "", *_data_lines(data)]
    shown = {stage.key for stage in failed} | {"data"}
    for stage in run.stages:
        if stage.details and stage.key not in shown:
            lines += ["", f"## {stage.key}: {stage.title}", "", stage.summary]
            lines += _details(stage)
    if run.shown_checklist:
        lines += ["", "## UI smoke checklist (manual)", ""]
        lines += [f"- [ ] {item}" for item in run.shown_checklist]
    return "\n".join(lines) + "\n"


def _details(stage: StageResult) -> list[str]:
    if not stage.details:
        return []
    shown = stage.details[:MAX_DETAIL_LINES]
    more = len(stage.details) - len(shown)
    block = ["", "```", *shown, "```"]
    if more:
        block.append(f"({more} more lines in report.json)")
    return block


def _lock_lines(stage: StageResult) -> list[str]:
    figures = stage.figures
    lines = [
        f"The migrate command ran for {figures.get('command_seconds', 0):.2f}s; "
        f"pg_locks and pg_stat_activity were sampled every {figures.get('interval', 0):g}s "
        f"({figures.get('samples', 0)} samples).",
        "",
    ]
    holds = figures.get("locks", [])
    if holds:
        lines += [
            "| relation | blocking lock | longest hold |",
            "|---|---|---|",
        ]
        for hold in holds[:MAX_LOCK_ROWS]:
            lines.append(f"| {_cell(hold['relation'])} | {hold['mode']} | {hold['seconds']:.2f}s |")
        if len(holds) > MAX_LOCK_ROWS:
            lines.append(f"| ({len(holds) - MAX_LOCK_ROWS} shorter holds in report.json) | | |")
        lines += ["", "ACCESS EXCLUSIVE blocks reads and writes; the other modes block writes."]
    else:
        lines.append(
            "No lock that blocks reads or writes was seen in any sample (a hold shorter than "
            "the interval can fall between two samples)."
        )
    slow = figures.get("slow_statements", [])
    threshold = figures.get("slow_threshold", 0)
    lines.append("")
    if slow:
        lines += [f"Statements that ran longer than {threshold:g}s:", ""]
        lines += [f"- {item['seconds']:.2f}s: `{_cell(item['query'])}`" for item in slow]
    else:
        lines.append(f"No statement ran longer than {threshold:g}s.")
    if figures.get("sampler_error"):
        lines += ["", f"(the sampler stopped early: {figures['sampler_error']})"]
    return lines


def _data_lines(stage: StageResult) -> list[str]:
    lines = ["| table | before | after | what happened |", "|---|---|---|---|"]
    for table in stage.figures["tables"]:
        mark = ""
        if table["problem"]:
            mark = "**GAINED** " if table.get("gained") else "**LOST/CHANGED** "
        lines.append(
            f"| {_cell(table['table'])} | {table['before']} | {table['after']} "
            f"| {mark}{_cell(table['note'])} |"
        )
    lines += ["", "`~` marks an estimate (tables above prodclone.check.exact_count_max_mb)."]
    return lines


def _stage_dict(stage: StageResult) -> dict[str, Any]:
    return {
        "key": stage.key,
        "title": stage.title,
        "status": str(stage.status),
        "seconds": round(stage.seconds, 3),
        "command_seconds": round(stage.command_seconds, 3),
        "tool_seconds": round(stage.tool_seconds, 3),
        "summary": stage.summary,
        "details": stage.details,
        "figures": stage.figures,
    }


def render_json(run: CheckRun) -> str:
    document = {
        "verdict": run.verdict,
        "passed": run.passed,
        "failed_stages": [stage.key for stage in run.failed],
        "interrupted_at": run.interrupted_at,
        "app": run.app,
        "clone_db": run.clone_db,
        "fresh_db": run.fresh_db,
        "dump": run.dump,
        "started_at": run.started_at.isoformat(),
        "seconds": round(run.seconds, 3),
        "tool_seconds": round(run.tool_seconds, 3),
        "stages": [_stage_dict(stage) for stage in run.stages],
        "ui_checklist": run.shown_checklist,
    }
    return json.dumps(document, indent=2, default=str) + "\n"


def render_junit(run: CheckRun) -> str:
    """One test case per stage; skipped and not-run stages are `<skipped/>`."""
    suite = ET.Element(
        "testsuite",
        name="refactor-check",
        tests=str(len(run.stages)),
        failures=str(len(run.failed)),
        errors=str(sum(stage.status is Status.INTERRUPTED for stage in run.stages)),
        skipped=str(sum(stage.status in (Status.SKIPPED, Status.NOT_RUN) for stage in run.stages)),
        time=f"{run.seconds:.3f}",
        timestamp=run.started_at.isoformat(timespec="seconds"),
    )
    for number, stage in enumerate(run.stages, start=1):
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"refactor-check.{run.app}",
            name=f"{number}. {stage.key}: {stage.title}",
            time=f"{stage.seconds:.3f}",
        )
        if stage.status is Status.FAILED:
            failure = ET.SubElement(case, "failure", message=stage.summary, type=stage.key)
            failure.text = "\n".join(stage.details[:MAX_DETAIL_LINES])
        elif stage.status is Status.INTERRUPTED:
            ET.SubElement(case, "error", message=stage.summary or "interrupted", type="interrupted")
        elif stage.status in (Status.SKIPPED, Status.NOT_RUN):
            ET.SubElement(case, "skipped", message=stage.summary or str(stage.status))
        if stage.status is Status.PASSED and stage.summary:
            ET.SubElement(case, "system-out").text = stage.summary
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def print_summary(run: CheckRun, console: Console) -> None:
    table = Table(title=f"refactor-check: {run.verdict}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("stage")
    table.add_column("result")
    table.add_column("time", justify="right")
    table.add_column("summary", overflow="fold")
    styles = {Status.PASSED: "green", Status.FAILED: "bold red", Status.INTERRUPTED: "yellow"}
    for number, stage in enumerate(run.stages, start=1):
        style = styles.get(stage.status, "dim")
        table.add_row(
            str(number),
            stage.key,
            f"[{style}]{_MARKS[stage.status]}[/]",
            _duration(stage.seconds),
            stage.summary,
        )
    console.print(table)
    if run.shown_checklist:
        console.print("\nUI smoke checklist (manual, against the migrated clone):")
        for item in run.shown_checklist:
            console.print(f"  [ ] {item}", markup=False)
