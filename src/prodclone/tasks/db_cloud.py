"""db tasks that talk to AWS: clone-prod and list-clones."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from invoke.context import Context
from invoke.exceptions import Exit

from prodclone.errors import ProdcloneError
from prodclone.tasks._common import (
    confirm_or_stop,
    domain_errors,
    dry_run_of,
    settings_of,
    tell,
    whole_number,
)
from prodclone.tasks.flags import task

# What `tags.new_run_id` makes: lower-case letters, digits and hyphens (RDS identifiers).
RUN_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


@contextmanager
def aws_errors() -> Iterator[None]:
    """An AWS API error not handled deeper down, as one line naming the call."""
    import botocore.exceptions

    try:
        yield
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        raise ProdcloneError(
            f"AWS refused {exc.operation_name}: {error.get('Code', '?')}: "
            f"{error.get('Message', '').strip()}"
        ) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise ProdcloneError(f"AWS call failed: {exc}") from None


@task(
    help={
        "dry-run": "Run the checks and print the plan; create nothing.",
        "keep-instance": "Keep the throwaway instance afterwards for debugging (it costs money).",
        "jobs": "Dump with N parallel jobs (directory format) when N > 1.",
        "out": "Write the dump here instead of <dump_dir>/prod-<timestamp>.dump.",
        "yes": "Do not ask before creating the snapshot and instance.",
        "skip-dump-check": "Do not check the masking rules against the newest local dump first "
        "(a rule on a column production gained since it); the instance still checks them.",
    }
)
def clone_prod(
    c: Context,
    dry_run: bool = False,
    keep_instance: bool = False,
    jobs: str = "",
    out: str = "",
    yes: bool = False,
    skip_dump_check: bool = False,
) -> None:
    """Dump prod via a throwaway RDS copy, then remove it."""
    with domain_errors(), aws_errors():
        from rich.console import Console

        from prodclone import clone
        from prodclone.aws.clients import connect_aws
        from prodclone.clone.maskcheck import check_rules_on_newest_dump
        from prodclone.clone.masking import mask_plan_lines
        from prodclone.settings.local import JOBS_WHY, MAX_JOBS
        from prodclone.tasks._needs import require_local_settings
        from prodclone.tasks._values import clone_target_of, masking_of, paths_of

        dry_run = dry_run_of(c, dry_run)
        options = clone.CloneOptions(
            dry_run=dry_run,
            keep_instance=keep_instance,
            jobs=whole_number("--jobs", jobs, 1, 1, maximum=MAX_JOBS, why_maximum=JOBS_WHY),
            out=_out_flag(out),
            yes=yes,
        )
        settings = settings_of(c)
        require_local_settings(settings.aws)
        target, masking = clone_target_of(settings), masking_of(settings)
        # Before any AWS call: a misspelt rule must not cost a snapshot and an instance.
        rules_checked = check_rules_on_newest_dump(
            masking.rules, masking.in_aws, settings.dump_dir, skip_dump_check
        )
        clients = connect_aws(target.region, target.profile)
        plan = clone.preflight(target, settings.dump_dir, clients, options)
        for line in clone.render_plan(plan, clients.region):
            print(line)
        for line in mask_plan_lines(masking):
            print(line)
        if rules_checked:
            print(rules_checked)
        if dry_run:
            print("dry run: nothing was created")
            return
        confirm_or_stop("Create the snapshot and the instance above?", yes)
        sys.stdout.flush()
        console = Console(highlight=False, soft_wrap=True)
        clone.run_clone(target, paths_of(settings), masking, clients, plan, options, console)


def _out_flag(text: str) -> Path | None:
    """--out's value, refused before any AWS call: its folder must exist, the file not."""
    from prodclone.errors import UsageError

    if not text:
        return None
    path = Path(text).expanduser()
    folder = path.resolve().parent
    if not folder.is_dir():
        raise UsageError(f"--out {text}: folder {folder} does not exist")
    if path.exists():
        raise UsageError(f"--out {text} already exists: choose another --out")
    return path


class ListingError(ProdcloneError):
    """list-clones could not list or delete: exit 2, as 1 means "strays found"."""

    exit_code = 2


@contextmanager
def listing_errors(as_json: bool) -> Iterator[None]:
    """Every failure of list-clones exits 2, and is a JSON object when JSON was asked for."""
    try:
        yield
    except Exit:
        raise
    except Exception as exc:
        if isinstance(exc, ProdcloneError):
            message = str(exc)
        else:
            # A database or other error nobody expected: still one line, still exit 2.
            first = (str(exc).strip().splitlines() or [""])[0]
            message = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        if as_json:
            import json

            print(json.dumps({"error": message, "exit_code": ListingError.exit_code}))
        raise ListingError(message) from None


@task(
    help={
        "delete": "Remove the stray cloud resources (past their expiry), or all of --run's.",
        "run": "Only this run's resources; with --delete, remove them even if not expired.",
        "yes": "Do not ask before deleting.",
        "format": "Output format: text or json.",
    }
)
def list_clones(
    c: Context, delete: bool = False, run: str = "", yes: bool = False, format: str = "text"
) -> None:
    """List clones in AWS and locally; exit 1 on strays, 2 on errors."""
    with domain_errors(), listing_errors(format == "json"), aws_errors():
        if format not in ("text", "json"):
            raise ProdcloneError(f"--format must be text or json (got {format!r})")
        if run and not RUN_ID.fullmatch(run):
            raise ProdcloneError(
                f"--run {run!r} is not a run id; copy it from `inv db.list-clones` "
                "(like 20261124-121518-9d3c)"
            )
        from prodclone import inventory
        from prodclone.aws import rds
        from prodclone.aws.clients import connect_aws
        from prodclone.aws.polling import WaitPolicy
        from prodclone.clone.dump import pgpass_dir, remove_stale_pgpass
        from prodclone.clone.leftovers import end_dead_tunnels
        from prodclone.private import guard_dump

        settings = settings_of(c)
        if not dry_run_of(c):
            tell(guard_dump(settings.dump_dir, settings.project_dir, None))
        clients = connect_aws(settings.aws.region, settings.aws.profile)
        cloud = inventory.cloud_items(clients.rds)
        if run:
            cloud = inventory.of_run(cloud, run)
        databases, note = inventory.local_items(settings.local)
        found = inventory.Inventory(cloud, databases, inventory.dump_files(settings.dump_dir), note)
        print(
            inventory.render_json(found)
            if format == "json"
            else "\n".join(inventory.render_text(found))
        )
        if not delete:
            if found.strays:
                raise Exit(code=1)
            return
        if run:
            # A named run is removed at once, expired or not: its process is gone.
            doomed = [item for item in cloud if item.status not in ("deleting", "deleted")]
            what = f"the {len(doomed)} cloud resource(s) of run {run}"
        else:
            doomed, what = found.strays, f"{len(found.strays)} stray cloud resource(s)"
        if dry_run_of(c):
            for item in doomed:
                print(f"would delete {item.kind} {item.id}", file=sys.stderr)
            if doomed:
                raise Exit(code=1)
            return
        # Password folders of killed runs: useless once their instance is gone, and ours.
        passwords = pgpass_dir(settings.local.data_dir)
        removed = remove_stale_pgpass(passwords)
        if removed:
            print(f"removed {removed} password folder(s) left by killed runs", file=sys.stderr)
        # Tunnels of killed runs on this machine: their plugin and SSM session.
        for line in end_dead_tunnels(passwords, clients.ssm, run):
            print(line, file=sys.stderr)
        if not doomed:
            if run:
                print(f"nothing of run {run} left to remove", file=sys.stderr)
            return
        confirm_or_stop(f"Delete {what}?", yes)
        wait = WaitPolicy(rds.DELETE_WAIT_SECONDS, settings.aws.poll_max_seconds)
        failed = False
        for item, outcome in inventory.delete_items(clients.rds, doomed, wait):
            print(f"{item.kind} {item.id}: {outcome}", file=sys.stderr)
            failed = failed or outcome.startswith("FAILED")
        if failed:
            raise ProdcloneError("some cloud resources could not be deleted (see above)")
