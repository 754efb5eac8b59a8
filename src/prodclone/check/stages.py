"""The gates of refactor-check. Each fills in its StageResult; errors fail it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from prodclone.check import baseref, columns, ddlwatch, rowcounts
from prodclone.check.app import AppNotReady, app_record, running_app
from prodclone.check.locks import LockReport, sampling
from prodclone.check.model import (
    APP_LOG,
    BASE_APP_LOG,
    FRESH_LOG,
    MIGRATE_LOG,
    CheckOptions,
    CheckRun,
    StageResult,
)
from prodclone.check.patterns import scan
from prodclone.check.references_gate import take_baseline as take_reference_baseline
from prodclone.check.setup import CheckSetup
from prodclone.local.appcmd import CommandResult, Fold, run_command
from prodclone.local.server import LocalServer
from prodclone.pg.fingerprint import catalog_fingerprint

if TYPE_CHECKING:
    from prodclone.references import Names, ReferenceReport

TAIL_LINES = 20
# The migration watch's own schema (see ddlwatch): never part of what is checked.
WATCH_SCHEMA = ddlwatch.SCHEMA


@dataclass
class StageContext:
    setup: CheckSetup
    server: LocalServer
    options: CheckOptions
    run: CheckRun
    baseline: rowcounts.Counts = field(default_factory=dict)
    column_prints: columns.Prints = field(default_factory=dict)
    # The running release's code (check.base_ref), resolved before the run starts.
    base: baseref.BaseRef = field(default_factory=baseref.BaseRef)
    # Read by the baseline stage for the reference gate: names by OID, older breakage.
    names_before: Names | None = None
    references_before: ReferenceReport | None = None

    @property
    def clone(self) -> str:
        return self.setup.names.clone

    def env(self, dbname: str | None = None) -> dict[str, str]:
        return self.setup.commands.env(self.server, dbname or self.clone)

    def command(
        self,
        command: str,
        label: str,
        limited: bool = True,
        log: str = "",
        cwd: Path | None = None,
    ) -> CommandResult:
        """Run an app command on the clone; `limited` ones stop at check.command_timeout.

        With `log`, the output is folded in the terminal and kept whole in that file of
        the report folder.
        """
        return run_command(
            command,
            self.env(),
            label=label,
            timeout=self.setup.check.command_timeout if limited else None,
            echo=self.options.echo,
            cwd=str(cwd or self.setup.commands.folder),
            fold=self.fold(log) if log else None,
        )

    def fold(self, log: str) -> Fold:
        return Fold(self.run.report_dir / log)


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

    setup = context.setup
    loaded = load_clone(
        context.server,
        setup.paths,
        setup.names.clone,
        context.options.dump,
        setup.masking,
        jobs=setup.restore_jobs,
        keep_spare=setup.keep_spare,
        force_restore=context.options.force_restore,
    )
    context.run.dump = str(loaded.dump)
    _personal_columns_without_rule(context)
    stage.figures = {"method": loaded.method, "dump": str(loaded.dump)}
    roles = f"; created roles {', '.join(loaded.created_roles)}" if loaded.created_roles else ""
    stage.passed(f"{loaded.clone_db} from {loaded.dump.name} by {loaded.method}{roles}")


def _personal_columns_without_rule(context: StageContext) -> None:
    """A column added since the masking rules were written is how personal data leaks."""
    import sys

    from prodclone.mask import scan

    rules = context.setup.masking.rules
    if not rules:
        return
    with context.server.connect(context.clone) as conn:
        found = scan.without_rule(scan.scan(conn), rules)
    for line in scan.warning_lines(found):
        print(line, file=sys.stderr)


def boot(context: StageContext, stage: StageResult) -> None:
    """The running release boots against production (the clone, before migrating).

    From the base ref's checkout when there is one: that is the code production runs.
    """
    command = context.setup.commands.boot
    if not command:
        stage.skip("commands.boot is not set")
        return
    base = context.base
    if base.skipped:
        result = context.command(command, "boot")
        _record_command(
            stage,
            result,
            "the boot command",
            f"the working tree's code boots against the pre-migration clone "
            f"({result.seconds:.1f}s); base ref skipped: {base.skipped}",
        )
        return
    with baseref.checkout(base) as tree:
        result = context.command(command, "boot", cwd=tree)
    stage.figures["base_ref"] = base.label
    _record_command(
        stage,
        result,
        f"the boot command of the base ref {base.label}",
        f"the running release ({base.label}) boots against the pre-migration clone "
        f"({result.seconds:.1f}s)",
    )


def baseline(context: StageContext, stage: StageResult) -> None:
    with context.server.connect(context.clone) as conn:
        context.column_prints = columns.fingerprint(
            conn, context.setup.check.sample_above_bytes, exclude_schema=WATCH_SCHEMA
        )
        counts = rowcounts.count_rows(
            conn,
            context.setup.check.exact_count_max_bytes,
            known=columns.exact_counts(context.column_prints),
            sampled=columns.sample_estimates(context.column_prints),
        )
    context.baseline = counts
    estimated = sum(table.estimated for table in counts.values())
    rows = sum(table.rows for table in counts.values())
    note = f" ({estimated} estimated)" if estimated else ""
    prints = context.column_prints
    sampled = [table.qualified for table in prints.values() if table.sampled]
    stage.figures = {
        "tables": len(counts),
        "rows": rows,
        "estimated_tables": estimated,
        "columns": sum(len(table.columns) for table in prints.values()),
        "sampled_tables": sampled,
    }
    stage.figures["references"] = take_reference_baseline(context)
    fingerprinted = sum(len(table.columns) for table in prints.values())
    sample_note = f"; {len(sampled)} sampled by primary key" if sampled else ""
    stage.passed(
        f"{len(counts)} tables, {rows} rows{note}; {fingerprinted} columns fingerprinted"
        f"{sample_note}"
    )


def migrate(context: StageContext, stage: StageResult) -> None:
    command = context.setup.commands.require_migrate()
    check = context.setup.check
    with context.server.connect(context.clone) as conn:
        schema_before = catalog_fingerprint(conn)
        # Installed after the fingerprint and removed before the next one (and before the
        # schema gate): the watch is never part of what the migration is compared on.
        with (
            ddlwatch.watching(conn) as watch,
            sampling(
                context.server.url(context.clone),
                check.lock_sample_seconds,
                check.slow_statement_seconds,
            ) as sampler,
        ):
            result = context.command(command, "migrate", limited=False, log=MIGRATE_LOG)
        unchanged = catalog_fingerprint(conn) == schema_before
        ddlwatch.analyse(watch, _known_tables(context), _current_names(conn, context))
    report = sampler.report
    stage.figures = {
        "command_seconds": round(result.seconds, 3),
        "interval": report.interval,
        "samples": report.samples,
        "slow_threshold": check.slow_statement_seconds,
        "ddl_locks": [lock.as_dict() for lock in watch.locks],
        "heavy_work": [work.as_dict() for work in watch.work],
        "ddl_events": watch.events,
        "watch_error": watch.error,
        "max_lock_seconds": check.max_lock_seconds,
        "locks": [hold.as_dict() for hold in report.holds],
        "slow_statements": [statement.as_dict() for statement in report.slow],
        "sampler_error": report.error,
        "schema_unchanged": unchanged,
        "output_lines": len(result.output.splitlines()),
        "log": MIGRATE_LOG,
    }
    locks = _longest_lock(watch, report)
    slow = f"; {len(report.slow)} statement(s) over {check.slow_statement_seconds:g}s"
    heavy = (
        f"; {len(watch.work)} table rewrite(s) or full scan(s): "
        + ", ".join(f"{work.kind} of {work.table}" for work in watch.work[:3])
        if watch.work
        else ""
    )
    # Nothing pending, or a command that migrated another database: the fresh stage tells.
    same = "; the clone's schema did not change" if unchanged else ""
    _record_command(
        stage,
        result,
        "the migrate command",
        f"migrated in {result.seconds:.2f}s; {locks}{heavy}{slow if report.slow else ''}{same}",
    )
    too_long = _locks_over_limit(watch, check.max_lock_seconds)
    if result.ok and too_long:
        stage.fail(
            f"{len(too_long)} ACCESS EXCLUSIVE lock(s) held longer than "
            f"check.max_lock_seconds ({check.max_lock_seconds:g}s): "
            + "; ".join(f"{lock.table} {lock.seconds:.2f}s" for lock in too_long[:5]),
            *(
                f"{lock.table}: ACCESS EXCLUSIVE for {lock.seconds:.3f}s, taken by "
                f"`{lock.statement}`"
                for lock in too_long
            ),
            "Reads and writes of these tables wait that long during the deploy: split the "
            "migration, or raise prodclone.check.max_lock_seconds if that is acceptable.",
        )


def _known_tables(context: StageContext) -> dict[int, ddlwatch.KnownTable]:
    return {
        oid: ddlwatch.KnownTable(table.qualified, table.rows, table.size_bytes)
        for oid, table in context.baseline.items()
    }


def _current_names(conn: psycopg.Connection, context: StageContext) -> dict[int, str]:
    rows = conn.execute(
        "SELECT c.oid::bigint, n.nspname || '.' || c.relname FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY(%s::oid[])",
        (list(context.baseline),),
    ).fetchall()
    return dict(rows)


def _longest_lock(watch: ddlwatch.WatchReport, report: LockReport) -> str:
    """The summary's lock phrase: the longest ACCESS EXCLUSIVE the DDL took, else sampled."""
    timed = [lock for lock in watch.locks if lock.seconds is not None]
    if timed:
        longest = max(timed, key=lambda lock: (lock.mode == "AccessExclusiveLock", lock.seconds))
        return (
            f"{len(watch.locks)} lock(s) of SHARE or stronger on existing tables; longest "
            f"{longest.mode_name} on {longest.table} for {longest.seconds:.3f}s"
        )
    sampled = report.longest()
    if sampled:
        return (
            f"longest blocking lock: {sampled.mode} on {sampled.relation} for "
            f"{sampled.seconds:.2f}s (sampled)"
        )
    return "no lock of SHARE or stronger on an existing table"


def _locks_over_limit(watch: ddlwatch.WatchReport, limit: float | None) -> list[ddlwatch.HeldLock]:
    if limit is None:
        return []
    return [
        lock
        for lock in watch.locks
        if lock.mode == "AccessExclusiveLock" and lock.seconds is not None and lock.seconds > limit
    ]


def data(context: StageContext, stage: StageResult) -> None:
    before = context.baseline
    check = context.setup.check
    estimated = [oid for oid, table in before.items() if table.estimated]
    with context.server.connect(context.clone) as conn:
        prints_after = columns.fingerprint(
            conn,
            check.sample_above_bytes,
            exclude_schema=WATCH_SCHEMA,
            samples=columns.sample_plan(context.column_prints),
        )
        after = rowcounts.count_rows(
            conn,
            check.exact_count_max_bytes,
            estimate_oids=estimated,
            known=columns.exact_counts(prints_after),
            sampled=columns.sample_estimates(prints_after),
        )
    changes = rowcounts.compare_counts(
        before, after, check.expected_data_changes, fail_on_gained=check.fail_on_gained_rows
    )
    column_changes = columns.compare_columns(
        context.column_prints, prints_after, check.expected_data_changes
    )
    sampled = [
        f"{table.qualified} ({table.sample_note}; the same ranges before and after)"
        for table in context.column_prints.values()
        if table.sampled
    ]
    stage.figures = {
        "tables": [_change_dict(change) for change in changes],
        "columns": [_column_dict(change) for change in column_changes],
        "columns_compared": sum(len(t.columns) for t in context.column_prints.values()),
        "sampled_tables": sampled,
    }
    column_problems = [change for change in column_changes if change.problem]
    gained = [change for change in changes if change.gained and not change.bookkeeping]
    grown = [change for change in changes if change.gained and change.bookkeeping]
    gained_line = (
        f"{len(gained)} table(s) gained rows: "
        + ", ".join(f"{change.name} (+{change.gained})" for change in gained[:5])
        + (f" and {len(gained) - 5} more" if len(gained) > 5 else "")
        if gained
        else ""
    )
    problems = [change for change in changes if change.problem]
    if column_problems and not problems:
        stage.fail(
            f"{len(column_problems)} column(s) lost or changed data: "
            + "; ".join(f"{change.name} {change.note}" for change in column_problems[:5]),
            *(f"{change.name}: {change.note}" for change in column_problems),
            "If the migration means to change these, list them (table or table.column) in "
            "prodclone.check.expected_data_changes.",
        )
        return
    if problems:
        lost = [change for change in problems if not change.gained]
        what = "lost or changed rows" if lost else "gained rows (check.fail_on_gained_rows)"
        stage.fail(
            f"{len(problems)} table(s) {what}: "
            + "; ".join(f"{change.name} {change.note}" for change in problems[:5]),
            *(f"{change.name}: {change.note}" for change in problems),
            *([gained_line] if gained_line and lost else []),
            *(f"{change.name}: {change.note}" for change in column_problems),
            "If the migration means to change these, list them in "
            "prodclone.check.expected_data_changes.",
        )
        return
    renamed = sum("renamed to" in change.note for change in changes)
    parts = [f"{len(before)} tables followed by OID ({renamed} renamed); no rows lost"]
    compared = stage.figures["columns_compared"]
    parts.append(f"{compared} columns compared by value: no data lost")
    stage.details.extend(f"{c.name}: {c.note}" for c in column_changes if c.expected)
    if sampled:
        parts.append("sampled: " + ", ".join(sampled))
    if gained_line:
        parts.append(gained_line)
    if grown:
        parts.append(
            f"{len(grown)} migration bookkeeping table(s) grew: "
            + ", ".join(change.name for change in grown)
        )
    if gained:
        stage.details.extend(f"{change.name}: {change.note}" for change in gained)
    stage.passed("; ".join(parts))


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
        "gained": change.gained,
        "bookkeeping": change.bookkeeping,
    }


def _column_dict(change: columns.ColumnChange) -> dict[str, Any]:
    return {
        "column": change.name,
        "note": change.note,
        "problem": change.problem,
        "expected": change.expected,
    }


def fresh(context: StageContext, stage: StageResult) -> None:
    from prodclone.local.fresh import MigratedElsewhere, build_fresh, fresh_inputs, reusable_fresh

    setup = context.setup
    name = setup.names.fresh
    inputs = fresh_inputs(setup.commands)
    stage.figures = {"inputs": inputs.digest, "input_files": inputs.files, "reused": False}
    # A migrate command that changed nothing in the clone may be writing elsewhere now
    # (settings are not among the inputs): only a new build can tell.
    clone_same = bool(context.run.stage("migrate").figures.get("schema_unchanged"))
    if not clone_same and reusable_fresh(context.server, name, inputs):
        stage.figures["reused"] = True
        stage.passed(
            f"{name} reused: commands.fresh_inputs ({inputs.files} files) and the migrate "
            "command are unchanged since it was built"
        )
        return
    why = ""
    if inputs.unmatched:
        why = f" (rebuilt: commands.fresh_inputs {', '.join(inputs.unmatched)} matched no file)"
    elif inputs.reusable and clone_same:
        why = " (rebuilt: the migrate command changed nothing in the clone)"
    try:
        result = build_fresh(
            setup.commands,
            context.server,
            setup.names,
            setup.paths.state,
            setup.restore_jobs,
            echo=context.options.echo,
            fold=context.fold(FRESH_LOG),
        )
    except MigratedElsewhere as exc:
        also = ["The migrate command changed nothing in the clone either."] if clone_same else []
        stage.fail(str(exc), *also)
        return
    _record_command(
        stage,
        result,
        "the migrate command on the fresh database",
        f"{name} built by all migrations{why}",
    )


def schema(context: StageContext, stage: StageResult) -> None:
    from prodclone.check.schemagate import gate_text
    from prodclone.schema import compare_databases

    fresh_db = context.setup.names.fresh
    options = dataclasses.replace(
        context.setup.schema, extra_bin_dirs=context.server.extra_bin_dirs
    )
    result = compare_databases(
        context.server.url(context.clone),
        context.server.url(fresh_db),
        options,
        labels=(context.clone, fresh_db),
    )
    text = gate_text(result, context.clone, fresh_db, context.run.report_dir / "report.md")
    stage.figures = text.figures
    stage.terminal = text.terminal
    if result.differences:
        stage.fail(text.summary, *text.details)
    else:
        stage.details.extend(text.details)
        stage.passed(text.summary)


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
    commands = context.setup.commands
    if context.options.skip_smoke:
        stage.skip("--skip-smoke")
        return
    if not commands.serve and not commands.smoke:
        stage.skip("neither commands.serve nor commands.smoke is set")
        return
    outcome = SmokeOutcome()
    try:
        if commands.serve:
            _serve_and_smoke(context, stage, outcome, None, APP_LOG)
        else:
            _smoke_commands(context, outcome, None)
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


def _serve_and_smoke(
    context: StageContext, stage: StageResult, outcome: SmokeOutcome, cwd: Path | None, log: str
) -> None:
    """The smoke commands against the app, which is stopped afterwards whatever happens."""
    setup = context.setup
    with running_app(
        setup.commands.serve,
        context.env(),
        cwd=cwd or setup.commands.folder,
        log_path=context.run.report_dir / log,
        ready_line=setup.check.serve_ready_line,
        ready_port=setup.check.serve_ready_port,
        timeout=setup.check.serve_timeout,
        echo=context.options.echo,
        record=app_record(setup.paths.state),
    ) as app:
        stage.figures["app_pid"] = app.pid
        stage.figures["ready_seconds"] = round(app.ready_seconds, 3)
        outcome.seconds += app.ready_seconds
        _smoke_commands(context, outcome, cwd)
        # An app that died under the smoke commands is a failure even if they passed.
        exit_code = app.process.poll()
    if exit_code is not None:
        outcome.problems.append(f"the app exited with code {exit_code} during the smoke commands")
    outcome.outputs.append((log, app.output()))


def _smoke_commands(context: StageContext, outcome: SmokeOutcome, cwd: Path | None) -> None:
    smoke_commands = context.setup.commands.smoke
    for number, command in enumerate(smoke_commands, start=1):
        result = context.command(command, f"smoke {number}", cwd=cwd)
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
    patterns = context.setup.check.log_patterns
    quotes = [match.quote() for source, text in outputs for match in scan(text, patterns, source)]
    stage.figures["log_matches"] = quotes
    return quotes


SPLIT_ADVICE = (
    "the running release breaks on this migration: deploy it with downtime, or split it "
    "(expand, deploy, then contract)"
)


def deploy(context: StageContext, stage: StageResult) -> None:
    """The deploy window: the running release's serve and smoke commands on the new schema.

    A failure fails the check only with check.zero_downtime; it always shows.
    """
    commands = context.setup.commands
    base = context.base
    if context.options.skip_smoke:
        stage.skip("--skip-smoke")
        return
    if not commands.serve and not commands.smoke:
        stage.skip("neither commands.serve nor commands.smoke is set")
        return
    if base.skipped:
        stage.skip(base.skipped)
        return
    stage.figures["base_ref"] = base.label
    outcome = SmokeOutcome()
    with baseref.checkout(base) as tree:
        try:
            if commands.serve:
                _serve_and_smoke(context, stage, outcome, tree, BASE_APP_LOG)
            else:
                _smoke_commands(context, outcome, tree)
        except AppNotReady as exc:
            log = (context.run.report_dir / BASE_APP_LOG).read_text(errors="replace")
            outcome.problems.append(f"{exc} (commands.serve)")
            outcome.lines += [f"$ {commands.serve}", *log.splitlines()[-TAIL_LINES:]]
            outcome.outputs.append((BASE_APP_LOG, log))
        finally:
            stage.command_seconds = outcome.seconds
    quotes = _quote_matches(context, stage, outcome.outputs)
    if quotes:
        outcome.problems.append(f"{len(quotes)} log line(s) matched prodclone.check.log_patterns")
    if not outcome.problems:
        stage.passed(
            f"the running release ({base.label}) serves and passes {len(commands.smoke)} smoke "
            "command(s) against the migrated clone"
        )
        return
    what = f"{SPLIT_ADVICE}. The base ref {base.label}: " + "; ".join(outcome.problems)
    details = [*quotes, *outcome.lines]
    if context.setup.check.zero_downtime:
        stage.fail(what, *details)
    else:
        stage.warn(what + " (check.zero_downtime is off: not a failure)", *details)
