"""The `demo` task: this repository's own, beside prodclone's tasks (see tasks.py)."""

from __future__ import annotations

from invoke.context import Context
from invoke.exceptions import Exit

from prodclone.tasks._common import local_task, refuse_dry, settings_of, tell, whole_number
from prodclone.tasks.flags import task


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
        from demo.run import clean_demo, run_demo
        from prodclone.private import guard_reports
        from prodclone.tasks._values import check_setup_of

        refuse_dry(c, "demo")
        documents = whole_number("--rows", rows, 20000, 1, "documents in the demo's data")
        settings = settings_of(c)
        setup = check_setup_of(settings)
        if clean:
            done = clean_demo(setup, settings.local)
            print("\n".join(done) if done else "nothing left by the demo")
            return
        try:
            outcome = run_demo(setup, settings.local, rows=documents, keep=keep)
        finally:
            tell(guard_reports(settings.check.report_dir, settings.project_dir, None))
        if not outcome.as_expected:
            raise Exit("prodclone: the demo did not turn out as expected", code=1)
