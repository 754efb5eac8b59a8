"""db tasks for the local server: server, load-clone, fresh, drop-clone."""

from __future__ import annotations

from invoke.context import Context

from prodclone.errors import ProdcloneError
from prodclone.tasks._common import (
    confirm,
    domain_errors,
    dry_run_of,
    dump_flag,
    local_task,
    refuse_dry,
    settings_of,
    tell,
    whole_number,
)
from prodclone.tasks.flags import task


@task(help={"stop": "Stop the embedded server instead of showing it."})
def server(c: Context, stop: bool = False) -> None:
    """Show (or stop) the local PostgreSQL server."""
    with domain_errors():
        from prodclone.local.server import resolve_server
        from prodclone.local.shutdown import stop_embedded

        refuse_dry(c, "db.server")  # showing the embedded server starts it
        settings = settings_of(c)
        if stop:
            if not settings.local.embedded:
                print("prodclone.local.url is set: that server is not ours to stop")
                return
            stopped = stop_embedded(settings.local)
            print("embedded server stopped" if stopped else "embedded server was not running")
            return
        local = resolve_server(settings.local)
        kind = "embedded" if local.embedded else "external"
        print(f"{kind} server: {local.masked()}")
        print(f"state: running, PostgreSQL {local.major_version()}")
        if local.embedded:
            print(f"data: {settings.local.data_dir}")


@task(
    help={
        "dump": "Dump file to load (default: the newest prod-*.dump in prodclone.dump_dir).",
        "restore": "Restore the dump in full even when a template for it exists.",
        "jobs": "How many pg_restore jobs a full restore uses (default local.restore_jobs).",
        "mask": "Apply prodclone.mask.rules to the restored dump (an older, unmasked one).",
    }
)
def load_clone(
    c: Context, dump: str = "", restore: bool = False, jobs: str = "", mask: bool = False
) -> None:
    """Load a prod dump into the local clone database."""
    with local_task():
        from prodclone.local.loader import load_clone as load
        from prodclone.local.server import resolve_server
        from prodclone.settings.local import JOBS_WHY, MAX_JOBS
        from prodclone.tasks._values import masking_of, paths_of

        refuse_dry(c, "db.load-clone")

        from prodclone.private import guard_dump

        restore_jobs = whole_number("--jobs", jobs, 0, 1, maximum=MAX_JOBS, why_maximum=JOBS_WHY)
        dump_path = dump_flag(dump)
        settings = settings_of(c)
        tell(guard_dump(settings.dump_dir, settings.project_dir, dump_path))
        local = resolve_server(settings.local)
        result = load(
            local,
            paths_of(settings),
            settings.local.clone_db,
            dump_path,
            masking_of(settings),
            jobs=restore_jobs or settings.local.restore_jobs,
            keep_spare=settings.local.keep_spare,
            force_restore=restore,
            mask=mask,
        )
        how = {
            "restore": "restored in full",
            "template": "copied from its template",
            "spare": "swapped in from a ready copy",
        }[result.method]
        print(f"{result.clone_db}: {result.dump.name} {how} in {result.seconds:.1f}s")
        print(f"url: {local.masked(result.clone_db)}")


@task(help={"name": "Database to build (default prodclone.local.fresh_db)."})
def fresh(c: Context, name: str = "") -> None:
    """Build the fresh database from all migrations."""
    with local_task():
        from prodclone.errors import UsageError
        from prodclone.local.fresh import build_fresh
        from prodclone.local.server import resolve_server
        from prodclone.settings.local import db_name_problem
        from prodclone.tasks._values import commands_of, names_of

        refuse_dry(c, "db.fresh")
        # The same rule as prodclone.local.fresh_db, so db.drop-clone can drop it later.
        if name and (problem := db_name_problem(name)):
            raise UsageError(f"--name {problem}")

        settings = settings_of(c)
        commands = commands_of(settings)
        command = commands.require_migrate()
        local = resolve_server(settings.local)
        dbname = name or settings.local.fresh_db
        print(f"building {dbname} with: {command}")
        result = build_fresh(
            commands,
            local,
            names_of(settings),
            settings.local.data_dir,
            settings.local.restore_jobs,
            dbname,
        )
        if not result.ok:
            why = "timed out" if result.timed_out else f"exited {result.returncode}"
            last = result.tail(5).replace("\n", " / ") or "no output"
            raise ProdcloneError(f"migrate command {why} on {dbname}: {last}")
        print(f"{dbname}: migrated in {result.seconds:.1f}s")


@task(
    help={
        "yes": "Do not ask before dropping.",
        "fresh": "Drop the fresh database (prodclone.local.fresh_db) instead of the clone.",
        "name": "With --fresh: drop this fresh database instead (one `db.fresh --name` built).",
        "all": "Drop the clone, its templates and spares, and the fresh database.",
        "dumps": "Also delete the dump files in prodclone.dump_dir (they hold personal data).",
        "dry_run": "Print what would be dropped and deleted, and do nothing.",
    }
)
def drop_clone(
    c: Context,
    yes: bool = False,
    fresh: bool = False,
    name: str = "",
    all: bool = False,
    dumps: bool = False,
    dry_run: bool = False,
) -> None:
    """Drop the clone, its templates and spares, or the fresh database (only ever ours)."""
    with local_task():
        from prodclone.errors import UsageError
        from prodclone.local.cleanup import DumpsLeft, drop_local, plan_local_drop
        from prodclone.local.server import resolve_server
        from prodclone.settings.local import db_name_problem
        from prodclone.tasks._values import names_of, paths_of

        dry_run = dry_run_of(c, dry_run)
        if name and not fresh:
            raise UsageError("--name names a fresh database: give it with --fresh")
        if name and (problem := db_name_problem(name)):
            raise UsageError(f"--name {problem}")
        settings = settings_of(c)
        local = resolve_server(settings.local)
        paths, names = paths_of(settings), names_of(settings)
        plan = plan_local_drop(
            local,
            paths,
            names,
            include_clone=all or not fresh,
            include_fresh=all or fresh,
            fresh_db=name,
            include_dumps=dumps,
        )
        if plan.empty:
            print(f"nothing to drop: {_what(plan.include_clone, plan.include_fresh, dumps)}")
            return
        for line in plan.describe():
            print(("would drop " if dry_run else "") + line)
        if dry_run:
            return
        if dumps:
            from prodclone.private import guard_dump

            # The dumps stay until the answer is yes.
            tell(guard_dump(settings.dump_dir, settings.project_dir, None))
        if not confirm("drop these", yes):
            print("nothing dropped")
            return
        try:
            done = drop_local(local, paths, names, plan)
        except DumpsLeft as exc:
            print("\n".join(exc.done))  # what did go, before the one line on what did not
            raise
        for line in done:
            print(line)


def _what(clone: bool, fresh: bool, dumps: bool) -> str:
    """What was looked for and not found, for the `nothing to drop` line."""
    parts = (["no clone databases"] if clone else []) + (["no fresh database"] if fresh else [])
    return " or ".join(parts + (["dumps"] if dumps else []))
