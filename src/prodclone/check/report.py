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
    Status.WARNING: "WARN",
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
        lines += [
            "",
            "## Data preservation (rows by table OID, columns by OID and number)",
            "",
            *_data_lines(data),
        ]
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
    lines += _ddl_lock_lines(figures)
    holds = figures.get("locks", [])
    if holds:
        lines += ["Also seen by sampling (any statement, DDL or not):", ""]
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


def _size(size: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


def _held(seconds: float | None) -> str:
    return "until a rollback (not recorded)" if seconds is None else f"{seconds:.3f}s"


def _ddl_lock_lines(figures: dict[str, Any]) -> list[str]:
    """What to tell reviewers: per statement, the lock, the table, its size, how long."""
    locks = figures.get("ddl_locks", [])
    work = figures.get("heavy_work", [])
    lines: list[str] = []
    if locks:
        lines += [
            "What the deploy does to traffic, per statement: each lock of SHARE level or "
            "stronger on a table that existed before, held from the statement that took it "
            "until its transaction ended (recorded by event triggers in the migration's own "
            "session, not sampled).",
            "",
            "| statement | lock | table | rows | size | held | rewrite or scan |",
            "|---|---|---|---|---|---|---|",
        ]
        for lock in locks[:MAX_LOCK_ROWS]:
            heavy = [
                f"{item['kind']} ({item['why']}, {item['seconds']:.3f}s)"
                for item in work
                if item["statement"] == lock["statement"] and item["table"] == lock["table"]
            ]
            lines.append(
                f"| `{_cell(lock['statement'])}` | {lock['mode']} | {_cell(lock['table'])} "
                f"| {lock['rows']} | {_size(lock['size_bytes'])} | {_held(lock['seconds'])} "
                f"| {'; '.join(heavy) or '-'} |"
            )
        if len(locks) > MAX_LOCK_ROWS:
            lines.append(f"| ({len(locks) - MAX_LOCK_ROWS} more in report.json) | | | | | | |")
        lines += [
            "",
            "ACCESS EXCLUSIVE blocks reads and writes of the table; SHARE, SHARE ROW EXCLUSIVE "
            "and EXCLUSIVE block writes.",
        ]
        if figures.get("max_lock_seconds") is not None:
            lines.append(
                f"Limit (check.max_lock_seconds): ACCESS EXCLUSIVE for at most "
                f"{figures['max_lock_seconds']:g}s."
            )
        lines.append("")
    elif figures.get("ddl_events"):
        lines += [
            "The migration's DDL took no lock of SHARE level or stronger on an existing table.",
            "",
        ]
    if work:
        lines += ["Table rewrites and full scans:", ""]
        lines += [
            f"- {item['kind']} of {item['table']} ({item['rows']} rows, "
            f"{_size(item['size_bytes'])}): {item['why']}, {item['seconds']:.3f}s, by "
            f"`{_cell(item['statement'])}`"
            for item in work
        ]
        lines.append("")
    if figures.get("watch_error"):
        lines += [f"(DDL locks not recorded: {figures['watch_error']})", ""]
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
    columns = [column for column in stage.figures.get("columns", [])]
    if columns:
        lines += ["", "| column | what happened |", "|---|---|"]
        for column in columns:
            mark = "**LOST/CHANGED** " if column["problem"] else ""
            lines.append(f"| {_cell(column['column'])} | {mark}{_cell(column['note'])} |")
    compared = stage.figures.get("columns_compared")
    if compared:
        lines += [
            "",
            f"{compared} columns were fingerprinted before and after (non-null count and a "
            "hash of its values), followed by table OID and column number.",
        ]
    for sampled in stage.figures.get("sampled_tables", []):
        lines.append(f"- sampled: {sampled}")
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
        if stage.status in (Status.PASSED, Status.WARNING) and stage.summary:
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
    styles = {
        Status.PASSED: "green",
        Status.FAILED: "bold red",
        Status.INTERRUPTED: "yellow",
        Status.WARNING: "bold yellow",
    }
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
