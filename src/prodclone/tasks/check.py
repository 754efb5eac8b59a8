"""Root task: refactor-check (the local loop, one verdict)."""

from __future__ import annotations

from pathlib import Path

from invoke.context import Context
from invoke.exceptions import Exit

from prodclone.tasks._common import (
    dump_flag,
    local_task,
    refuse_dry,
    settings_of,
    tell,
)
from prodclone.tasks.flags import task


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
        from prodclone.tasks._values import check_setup_of

        refuse_dry(c, "refactor-check")
        dump_path = dump_flag(dump)
        settings = settings_of(c)
        server = resolve_server(settings.local)
        options = CheckOptions(
            dump=dump_path.resolve() if dump_path else None,
            skip_smoke=skip_smoke,
            report_dir=Path(report).expanduser().resolve() if report else None,
            keep_going=keep_going,
            force_restore=restore,
        )
        tell(guard_dump(settings.dump_dir, settings.project_dir, options.dump))
        try:
            run = run_refactor_check(check_setup_of(settings), server, options)
        finally:  # interrupted too: the report is written whatever happens
            tell(guard_reports(settings.check.report_dir, settings.project_dir, options.report_dir))
        if not run.passed:
            failed = ", ".join(stage.key for stage in run.failed)
            raise Exit(f"prodclone: refactor-check failed at {failed}", code=1)
