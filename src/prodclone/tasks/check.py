"""Root tasks: refactor-check (the local loop, one verdict) and demo."""

from __future__ import annotations

from pathlib import Path

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from prodclone.tasks._common import local_task, refuse_dry, settings_of, tell, whole_number


@task(
    help={
        "dump": "Dump to load (default: the newest prodclone.dump_dir/prod-*.dump).",
        "skip_smoke": "Do not start the app or run the smoke commands.",
        "report": "Folder for report.md, report.json, junit.xml and app.log "
        "(default: prodclone.check.report_dir/<timestamp>).",
        "keep_going": "Run the later gates after one fails (the reset still stops the run).",
        "restore": "Restore the dump in full instead of resetting from its template.",
    }
)
def refactor_check(
    c: Context,
    dump: str = "",
    skip_smoke: bool = False,
    report: str = "",
    keep_going: bool = False,
    restore: bool = False,
) -> None:
    """Reset the clone, migrate it and run every gate; exit 0 only if all pass."""
    with local_task():
        from prodclone.check.model import CheckOptions
        from prodclone.check.runner import run_refactor_check
        from prodclone.local.server import resolve_server
        from prodclone.private import guard_dump, guard_reports

        refuse_dry(c, "refactor-check")
        settings = settings_of(c)
        server = resolve_server(settings.local)
        options = CheckOptions(
            dump=Path(dump).expanduser().resolve() if dump else None,
            skip_smoke=skip_smoke,
            report_dir=Path(report).expanduser().resolve() if report else None,
            keep_going=keep_going,
            force_restore=restore,
        )
        tell(guard_dump(settings.dump_dir, settings.project_dir, options.dump))
        try:
            run = run_refactor_check(settings, server, options)
        finally:  # interrupted too: the report is written whatever happens
            tell(guard_reports(settings.check.report_dir, settings.project_dir, options.report_dir))
        if not run.passed:
            failed = ", ".join(stage.key for stage in run.failed)
            raise Exit(f"prodclone: refactor-check failed at {failed}", code=1)


@task(
    help={
        "rows": "Documents in the demo's production stand-in (default 20000).",
        "keep": "Keep the demo's databases and dump afterwards, for a look.",
        "clean": "Only drop what an earlier `inv demo --keep` left, then stop.",
    }
)
def demo(c: Context, rows: str = "", keep: bool = False, clean: bool = False) -> None:
    """Show refactor-check catching a flawed rename migration, then passing the fix."""
    with local_task():
        from prodclone.check.demo import clean_demo, run_demo
        from prodclone.private import guard_reports

        refuse_dry(c, "demo")
        documents = whole_number("--rows", rows, 20000, 1, "documents in the demo's data")
        settings = settings_of(c)
        if clean:
            done = clean_demo(settings)
            print("\n".join(done) if done else "nothing left by the demo")
            return
        try:
            outcome = run_demo(settings, rows=documents, keep=keep)
        finally:
            tell(guard_reports(settings.check.report_dir, settings.project_dir, None))
        if not outcome.as_expected:
            raise Exit("prodclone: the demo did not turn out as expected", code=1)
