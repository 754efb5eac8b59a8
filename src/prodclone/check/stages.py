"""The gates of refactor-check. Each fills in its StageResult; errors fail it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prodclone.check import rowcounts
from prodclone.check.app import AppNotReady, running_app
from prodclone.check.locks import sampling
from prodclone.check.model import APP_LOG, CheckOptions, CheckRun, StageResult
from prodclone.check.patterns import scan
from prodclone.check.references_gate import take_baseline as take_reference_baseline
from prodclone.local.appcmd import CommandResult, run_command
from prodclone.local.server import LocalServer, app_env
from prodclone.settings import Settings

if TYPE_CHECKING:
    from prodclone.references import Names, ReferenceReport

TAIL_LINES = 20


@dataclass
class StageContext:
    settings: Settings
    server: LocalServer
    options: CheckOptions
    run: CheckRun
    baseline: rowcounts.Counts = field(default_factory=dict)
    # Read by the baseline stage for the reference gate: names by OID, older breakage.
    names_before: Names | None = None
    references_before: ReferenceReport | None = None

    @property
    def clone(self) -> str:
        return self.settings.local.clone_db

    def env(self, dbname: str | None = None) -> dict[str, str]:
        return app_env(self.server, dbname or self.clone, self.settings.local.db_env)

    def command(self, command: str, label: str, limited: bool = True) -> CommandResult:
        """Run an app command on the clone; `limited` ones stop at check.command_timeout."""
        return run_command(
            command,
            self.env(),
            label=label,
            timeout=self.settings.check.command_timeout if limited else None,
            echo=self.options.echo,
            cwd=str(self.settings.project_dir),
        )


def _command_failure(result: CommandResult, what: str) -> list[str]:
    """A failed command as a summary line, then the command and its last lines of output."""
    if result.timed_out:
        summary = f"{what} did not finish within {result.seconds:.0f}s (check.command_timeout)"
    else:
        summary = f"{what} exited with code {result.returncode} after {result.seconds:.1f}s"
    return [summary, f"$ {result.command}", *result.tail(TAIL_LINES).splitlines()]


def _record_command(stage: StageResult, result: CommandResult, what: str, passed: str) -> None:
    """A stage that is one app command: passed when it exits 0, failed with its output if not."""
    stage.command_seconds = result.seconds
    if result.ok:
        stage.passed(passed)
    else:
        stage.fail(*_command_failure(result, what))


def reset(context: StageContext, stage: StageResult) -> None:
    from prodclone.local.loader import load_clone

    loaded = load_clone(
        context.settings,
        context.server,
        context.options.dump,
        force_restore=context.options.force_restore,
    )
    context.run.dump = str(loaded.dump)
    stage.figures = {"method": loaded.method, "dump": str(loaded.dump)}
    roles = f"; created roles {', '.join(loaded.created_roles)}" if loaded.created_roles else ""
    stage.passed(f"{loaded.clone_db} from {loaded.dump.name} by {loaded.method}{roles}")


def boot(context: StageContext, stage: StageResult) -> None:
    command = context.settings.commands.boot
    if not command:
        stage.skip("commands.boot is not set")
        return
    result = context.command(command, "boot")
    _record_command(
        stage,
        result,
        "the boot command",
        f"current code boots against the pre-migration clone ({result.seconds:.1f}s)",
    )


def baseline(context: StageContext, stage: StageResult) -> None:
    with context.server.connect(context.clone) as conn:
        counts = rowcounts.count_rows(conn, context.settings.check.exact_count_max_bytes)
    context.baseline = counts
    estimated = sum(table.estimated for table in counts.values())
    rows = sum(table.rows for table in counts.values())
    note = f" ({estimated} estimated)" if estimated else ""
    stage.figures = {"tables": len(counts), "rows": rows, "estimated_tables": estimated}
    stage.figures["references"] = take_reference_baseline(context)
    stage.passed(f"{len(counts)} tables, {rows} rows{note}")


def migrate(context: StageContext, stage: StageResult) -> None:
    from prodclone.local.fresh import require_migrate

    command = require_migrate(context.settings)
    check = context.settings.check
    with sampling(
        context.server.url(context.clone), check.lock_sample_seconds, check.slow_statement_seconds
    ) as sampler:
        result = context.command(command, "migrate", limited=False)
    report = sampler.report
    stage.figures = {
        "command_seconds": round(result.seconds, 3),
        "interval": report.interval,
        "samples": report.samples,
        "slow_threshold": check.slow_statement_seconds,
        "locks": [hold.as_dict() for hold in report.holds],
        "slow_statements": [statement.as_dict() for statement in report.slow],
        "sampler_error": report.error,
    }
    longest = report.longest()
    locks = (
        f"longest blocking lock: {longest.mode} on {longest.relation} for {longest.seconds:.2f}s"
        if longest
        else "no blocking lock seen"
    )
    slow = f"; {len(report.slow)} statement(s) over {check.slow_statement_seconds:g}s"
    _record_command(
        stage,
        result,
        "the migrate command",
        f"migrated in {result.seconds:.2f}s; {locks}{slow if report.slow else ''}",
    )


def data(context: StageContext, stage: StageResult) -> None:
    before = context.baseline
    estimated = [oid for oid, table in before.items() if table.estimated]
    with context.server.connect(context.clone) as conn:
        after = rowcounts.count_rows(
            conn, context.settings.check.exact_count_max_bytes, estimate_oids=estimated
        )
    changes = rowcounts.compare_counts(before, after, context.settings.check.expected_data_changes)
    stage.figures = {"tables": [_change_dict(change) for change in changes]}
    problems = [change for change in changes if change.problem]
    if problems:
        stage.fail(
            f"{len(problems)} table(s) lost or changed rows: "
            + "; ".join(f"{change.name} {change.note}" for change in problems[:5]),
            *(f"{change.name}: {change.note}" for change in problems),
            "If the migration means to change these, list them in "
            "prodclone.check.expected_data_changes.",
        )
        return
    renamed = sum("renamed to" in change.note for change in changes)
    stage.passed(
        f"{len(before)} tables followed by OID ({renamed} renamed); no rows lost or changed"
    )


def _change_dict(change: rowcounts.TableChange) -> dict[str, Any]:
    return {
        "table": change.name,
        "oid_before": change.before.oid if change.before else None,
        "oid_after": change.after.oid if change.after else None,
        "after_name": change.after.qualified if change.after else None,
        "before": change.before.shown() if change.before else "",
        "after": change.after.shown() if change.after else "",
        "note": change.note,
        "problem": change.problem,
    }


def fresh(context: StageContext, stage: StageResult) -> None:
    from prodclone.local.fresh import build_fresh

    result = build_fresh(context.settings, context.server)
    _record_command(
        stage,
        result,
        "the migrate command on the fresh database",
        f"{context.settings.local.fresh_db} built by all migrations",
    )


def schema(context: StageContext, stage: StageResult) -> None:
    from prodclone.schema import DiffOptions, compare_databases, render_text

    settings = context.settings
    options = DiffOptions(
        ignore=settings.schema_diff.ignore,
        owners=settings.schema_diff.owners,
        extra_bin_dirs=context.server.extra_bin_dirs,
    )
    result = compare_databases(
        context.server.url(context.clone),
        context.server.url(settings.local.fresh_db),
        options,
        labels=(context.clone, settings.local.fresh_db),
    )
    stage.figures = {
        "differences": len(result.differences),
        "hidden": result.hidden_count,
        "by_kind": result.counts_by_kind(),
    }
    if result.differences:
        stage.fail(
            f"{result.summary()}: production's schema is not what the migrations produce",
            *render_text(result).splitlines(),
            "",
            f"a is the migrated clone (production's state), b is {settings.local.fresh_db} (what "
            "the migrations produce). An object only in a under an old name was left as",
            "production had it: a migration step that looked for another name (IF EXISTS, a DO "
            "block, a catalog lookup) skipped it. Prod drifted (hotfixes, edited migrations,",
            "names from older PostgreSQL); rename by what an object is, not by its expected name.",
        )
    else:
        stage.passed(result.summary())


@dataclass
class SmokeOutcome:
    seconds: float = 0.0
    failed_commands: int = 0
    # One phrase per problem for the stage's summary, and the lines that show it.
    problems: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    # (source, text) pairs scanned for check.log_patterns: each command's output, the app's log.
    outputs: list[tuple[str, str]] = field(default_factory=list)


def smoke(context: StageContext, stage: StageResult) -> None:
    commands = context.settings.commands
    if context.options.skip_smoke:
        stage.skip("--skip-smoke")
        return
    if not commands.serve and not commands.smoke:
        stage.skip("neither commands.serve nor commands.smoke is set")
        return
    outcome = SmokeOutcome()
    try:
        if commands.serve:
            _serve_and_smoke(context, stage, outcome)
        else:
            _smoke_commands(context, outcome)
    except AppNotReady as exc:
        stage.figures["app_pid"] = exc.pid
        log = (context.run.report_dir / APP_LOG).read_text(errors="replace")
        quotes = _quote_matches(context, stage, [(APP_LOG, log)])
        tail = log.splitlines()[-TAIL_LINES:]
        stage.fail(f"{exc} (commands.serve)", f"$ {commands.serve}", *tail, *quotes)
        return
    finally:
        stage.command_seconds = outcome.seconds
    quotes = _quote_matches(context, stage, outcome.outputs)
    if quotes:
        outcome.problems.append(f"{len(quotes)} log line(s) matched prodclone.check.log_patterns")
    stage.figures["smoke_commands"] = len(commands.smoke)
    stage.figures["smoke_failed"] = outcome.failed_commands
    if outcome.problems:
        # The matches first: report.md shows a stage's first lines, report.json all of them.
        stage.fail("; ".join(outcome.problems), *quotes, *outcome.lines)
        return
    app_note = "; the app started, served and stopped with a clean log" if commands.serve else ""
    stage.passed(f"{len(commands.smoke)} smoke command(s) passed{app_note}")


def _serve_and_smoke(context: StageContext, stage: StageResult, outcome: SmokeOutcome) -> None:
    """The smoke commands against the app, which is stopped afterwards whatever happens."""
    settings = context.settings
    with running_app(
        settings.commands.serve,
        context.env(),
        cwd=settings.project_dir,
        log_path=context.run.report_dir / APP_LOG,
        ready_line=settings.check.serve_ready_line,
        ready_port=settings.check.serve_ready_port,
        timeout=settings.check.serve_timeout,
        echo=context.options.echo,
    ) as app:
        stage.figures["app_pid"] = app.pid
        stage.figures["ready_seconds"] = round(app.ready_seconds, 3)
        outcome.seconds += app.ready_seconds
        _smoke_commands(context, outcome)
        # An app that died under the smoke commands is a failure even if they passed.
        exit_code = app.process.poll()
    if exit_code is not None:
        outcome.problems.append(f"the app exited with code {exit_code} during the smoke commands")
    outcome.outputs.append((APP_LOG, app.output()))


def _smoke_commands(context: StageContext, outcome: SmokeOutcome) -> None:
    smoke_commands = context.settings.commands.smoke
    for number, command in enumerate(smoke_commands, start=1):
        result = context.command(command, f"smoke {number}")
        outcome.seconds += result.seconds
        outcome.outputs.append((f"smoke {number}", result.output))
        if not result.ok:
            outcome.failed_commands += 1
            summary, *details = _command_failure(result, f"smoke {number}")
            outcome.lines += [summary, *(f"  {line}" for line in details)]
    if outcome.failed_commands:
        outcome.problems.append(
            f"{outcome.failed_commands} of {len(smoke_commands)} smoke command(s) failed"
        )


def _quote_matches(
    context: StageContext, stage: StageResult, outputs: list[tuple[str, str]]
) -> list[str]:
    """Every line that matches check.log_patterns, quoted with its source and line number."""
    patterns = context.settings.check.log_patterns
    quotes = [match.quote() for source, text in outputs for match in scan(text, patterns, source)]
    stage.figures["log_matches"] = quotes
    return quotes
