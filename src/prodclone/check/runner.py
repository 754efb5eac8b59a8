"""Run the refactor-check stages in order, stop at the first failed gate, write the report."""

from __future__ import annotations

import dataclasses
import os
import stat
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from prodclone.check import baseref, references_gate, stages
from prodclone.check.app import (
    app_record,
    require_port_free,
    require_readiness_signal,
    stop_leftover_app,
)
from prodclone.check.model import CheckOptions, CheckRun, StageResult, Status
from prodclone.check.report import print_summary, write_reports
from prodclone.check.setup import CheckSetup
from prodclone.errors import ProdcloneError, SettingsError
from prodclone.faults import checkpoint
from prodclone.guard.signals import interruption
from prodclone.local.lock import local_lock
from prodclone.local.server import LocalServer
from prodclone.pg import dumps

# A failure here leaves nothing for later stages to look at, even with --keep-going.
FATAL = {"reset"}
# Stages that need an earlier one to have passed.
NEEDS = {"data": "baseline", "references": "baseline", "schema": "fresh"}


def default_report_dir(setup: CheckSetup, started: datetime) -> Path:
    base = setup.check.report_dir
    if not base.is_absolute():
        base = setup.paths.project / base
    return base / started.strftime("%Y%m%dT%H%M%SZ")


def fill_checklist(setup: CheckSetup) -> list[str]:
    port = setup.check.serve_ready_port
    url = setup.check.app_url or (f"http://127.0.0.1:{port}" if port else "the app")
    values = {"{app}": setup.app, "{clone_db}": setup.names.clone, "{url}": url}
    filled = []
    for item in setup.check.ui_checklist:
        for placeholder, value in values.items():
            item = item.replace(placeholder, value)
        filled.append(item)
    return filled


StageFunction = Callable[[stages.StageContext, StageResult], None]
STAGE_FUNCTIONS: dict[str, StageFunction] = {
    "reset": stages.reset,
    "boot": stages.boot,
    "baseline": stages.baseline,
    "migrate": stages.migrate,
    "references": references_gate.references,
    "data": stages.data,
    "fresh": stages.fresh,
    "schema": stages.schema,
    "smoke": stages.smoke,
    "deploy": stages.deploy,
}


def preflight(setup: CheckSetup, options: CheckOptions) -> Path:
    """Settings the stages will need, checked before the clone is touched; returns the dump."""
    setup.commands.require_migrate()
    if setup.commands.serve and not options.skip_smoke:
        require_readiness_signal(setup.check)
        if not app_record(setup.paths.state).exists():
            # Said at once; with a record, a killed run's app may hold the port, and the
            # run stops it once it holds the lock (see _clear_the_port).
            require_port_free(setup.check.serve_ready_port)
    if options.dump is None:
        return dumps.newest_dump(setup.paths.dumps)
    if not options.dump.exists():
        raise SettingsError(
            f"--dump {options.dump} does not exist: pass a dump made by `inv db.clone-prod`, "
            "or leave --dump out to use the newest one in prodclone.dump_dir"
        )
    return options.dump


def prepare_report_dir(path: Path, source: str) -> None:
    """The report folder must be writable before the run starts, not found out at its end.

    `source` names where the path came from (the flag or the setting), for the message.
    """
    if path.exists() and not path.is_dir():
        raise SettingsError(
            f"{source} {path} is a file: pass a folder (it receives report.md, report.json, "
            "junit.xml and app.log)"
        )
    try:
        # Private: the app's log and smoke output may quote production's rows.
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"{source} {path} cannot be created: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise SettingsError(f"{source} {path} is not writable: pass a folder you can write to")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        # The user's own folder (a CI artifacts folder, say) keeps its mode; the files
        # written into it are 0600, but their names and the folder's other files show.
        print(
            f"prodclone: WARNING: {source} {path} is open to other users (mode {mode:04o}); "
            f"the report files in it are 0600; run chmod 700 {path} to make it private",
            file=sys.stderr,
            flush=True,
        )


def run_refactor_check(
    setup: CheckSetup, server: LocalServer, options: CheckOptions, console: Console | None = None
) -> CheckRun:
    """Every stage in order; the report is written whatever happens, Ctrl-C included.

    Returns the run (check `.passed`); a KeyboardInterrupt is recorded in the report
    and then raised again. The run holds the local lock from start to end: another
    command (a second refactor-check, a db.load-clone) waits until it is done.
    """
    options = dataclasses.replace(options, dump=preflight(setup, options))
    base = baseref.resolve(setup.paths.project, setup.check.base_ref)
    started_at = datetime.now(UTC)
    if options.report_dir:
        report_dir, source = options.report_dir, "--report"
    else:
        report_dir, source = default_report_dir(setup, started_at), "prodclone.check.report_dir"
    run = CheckRun(
        app=setup.app,
        clone_db=setup.names.clone,
        fresh_db=setup.names.fresh,
        started_at=started_at,
        report_dir=report_dir,
        checklist=fill_checklist(setup),
    )
    # Waiting for the lock is not part of the run: Ctrl-C there changes nothing.
    with local_lock(server, "refactor-check"):
        _clear_the_port(setup, options)
        prepare_report_dir(report_dir, source)
        return _locked_run(setup, server, options, run, console, base)


def _clear_the_port(setup: CheckSetup, options: CheckOptions) -> None:
    """An app a killed run left behind is stopped; anything else on the port is refused."""
    note = stop_leftover_app(app_record(setup.paths.state))
    if note:
        print(f"prodclone: {note}", file=sys.stderr, flush=True)
    if setup.commands.serve and not options.skip_smoke:
        require_port_free(setup.check.serve_ready_port)


def _locked_run(
    setup: CheckSetup,
    server: LocalServer,
    options: CheckOptions,
    run: CheckRun,
    console: Console | None,
    base: baseref.BaseRef,
) -> CheckRun:
    console = console or Console(soft_wrap=True)  # long lines stay whole when piped
    began = time.monotonic()
    try:
        _run_stages(stages.StageContext(setup, server, options, run, base=base), console)
    except KeyboardInterrupt:
        if run.interrupted_at is None:  # between two stages
            done = [stage.key for stage in run.stages if stage.status is not Status.NOT_RUN]
            run.interrupted_at = f"after {done[-1]}" if done else "before reset"
        raise
    finally:
        run.seconds = time.monotonic() - began
        written = write_reports(run)
        print_summary(run, console)
        console.print(f"\nreport: {written[0]} (+ report.json, junit.xml)", markup=False)
    return run


def _run_stages(context: stages.StageContext, console: Console) -> None:
    """Stop after the first failed gate (the reset always, others unless --keep-going)."""
    run = context.run
    stopped_by: str | None = None
    for number, stage in enumerate(run.stages, start=1):
        if stopped_by is not None:
            stage.summary = f"not run: {stopped_by} failed"
            continue
        needed = NEEDS.get(stage.key)
        if needed and run.stage(needed).status is not Status.PASSED:
            stage.summary = f"not run: it needs {needed}, which did not pass"
            continue
        _run_stage(number, stage, context, console)
        if stage.status is Status.FAILED and (stage.key in FATAL or not context.options.keep_going):
            stopped_by = stage.key


def _run_stage(
    number: int, stage: StageResult, context: stages.StageContext, console: Console
) -> None:
    console.rule(f"[bold]{number}. {stage.key}[/]: {stage.title}", align="left")
    started = time.monotonic()
    try:
        checkpoint(f"check-{stage.key}")
        STAGE_FUNCTIONS[stage.key](context, stage)
    except ProdcloneError as exc:
        stage.fail(str(exc))
    except KeyboardInterrupt:
        stage.status = Status.INTERRUPTED
        stage.summary = f"interrupted ({interruption()}); the clone was left as it was"
        context.run.interrupted_at = stage.key
        raise
    except Exception as exc:  # a bug: record it in the report, keep the app stopped
        stage.fail(
            f"prodclone error: {type(exc).__name__}: {exc}",
            *traceback.format_exc().rstrip().splitlines(),
        )
    finally:
        stage.seconds = time.monotonic() - started
        console.print(
            f"{number}. {stage.key}: {stage.status} in {stage.seconds:.1f}s"
            + (f" - {stage.summary}" if stage.summary else ""),
            markup=False,
            highlight=False,
        )
        for line in stage.terminal:
            console.print(f"  {line}" if line else "", markup=False, highlight=False)
