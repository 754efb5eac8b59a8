"""db.load-clone: a dump into `<app>_prod_clone`, restored once and reset in seconds.

The first load of a dump restores it into a template database named after the
dump's checksum; later loads copy that template (or rename a ready spare copy)
into place. Every step builds a new database and swaps it in only when it is
whole, so a failed load leaves the existing clone as it was.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from prodclone.errors import ProdcloneError
from prodclone.faults import checkpoint
from prodclone.local import masking as local_mask
from prodclone.local.copies import (
    BackgroundJob,
    background_idle,
    copy_database,
    lock_connections,
    restore_retired,
    start_background,
    swap_into_place,
)
from prodclone.local.dumpfit import check_extensions, choose_pg_restore
from prodclone.local.lock import local_lock
from prodclone.local.paths import Paths
from prodclone.local.restore import restore_dump
from prodclone.local.roles import create_missing_roles, drop_roles, roles_in_dump
from prodclone.local.server import LocalServer
from prodclone.mask.policy import MaskPolicy
from prodclone.pg import creating, databases, dumps
from prodclone.pg.names import CloneNames, is_clone_name, is_staging_of
from prodclone.pg.tools import ClientTool


@dataclass(frozen=True)
class LoadResult:
    clone_db: str
    dump: Path
    method: str  # "restore", "template" or "spare"
    seconds: float
    created_roles: list[str] = field(default_factory=list)


def belongs_to_clone(info: databases.DatabaseInfo, clone: str) -> bool:
    """Ours by the mark, and the clone's by one of its exact reserved names."""
    return info.ours and is_clone_name(info.name, clone)


def load_clone(
    server: LocalServer,
    paths: Paths,
    clone_db: str,
    dump: Path | None,
    masking: MaskPolicy,
    *,
    jobs: int,
    keep_spare: bool = True,
    force_restore: bool = False,
    show_progress: bool = True,
    mask: bool = False,
) -> LoadResult:
    """Load `dump` (default: the newest in `paths.dumps`) into `clone_db`.

    `jobs` is how many pg_restore jobs a full restore uses; `keep_spare` has a ready
    copy built in the background for the next reset; `mask` masks a full restore with
    `masking` before it becomes the template.
    """
    started = time.monotonic()
    path = (dump or dumps.newest_dump(paths.dumps)).resolve()
    if mask and not masking.rules:
        raise ProdcloneError(
            "--mask needs rules: set prodclone.mask.rules in invoke.yaml (docs/masking.md)"
        )
    major = server.major_version()
    pg_restore, info = choose_pg_restore(server, major, path)
    if mask:
        local_mask.check_rules_against_dump(masking.rules, path, pg_restore)
    with server.connect() as conn:
        check_extensions(conn, info, server)
    state_dir = paths.state
    digest = dumps.checksum(path, state_dir / "checksums.json")
    names = CloneNames(clone_db, digest)
    clone_mark = f"clone sha256={digest} dump={path.name} loaded={_now()}"

    with local_lock(server, "db.load-clone"), server.connect() as conn:
        for name in creating.reclaim(conn, state_dir, databases.MARK):
            print(f"dropped {name}, left unmarked by a prodclone command that was killed")
        # Every name this load may touch, before anything changes: a look-alike found
        # half way would stop the load after the spare or the template was dropped.
        for name in names.all():
            databases.require_ours_or_absent(conn, name)
        clear_leftovers(conn, names, state_dir)
        template = databases.find(conn, names.template)
        masked_here = template is not None and local_mask.template_masked(
            template.comment, masking.rules
        )
        created: list[str] = []
        if (
            template is None
            or force_restore
            or template.role != "template"
            or (mask and not masked_here)
        ):
            created = _restore_template(
                server,
                conn,
                names,
                path,
                info,
                pg_restore,
                jobs,
                show_progress,
                state_dir,
                masking if mask else None,
            )
            method, masked_here = "restore", mask
        else:
            method = "template"
        warning = local_mask.unmasked_warning(masking.rules, path, masked_here)
        if warning:
            print(warning)
        with background_idle(state_dir):
            spare = databases.find(conn, names.spare)
            if method == "template" and spare is not None and spare.role == "spare":
                ready, method = names.spare, "spare"
            else:
                databases.drop(conn, names.next)
                copy_database(conn, names.next, names.template, "staging", state_dir)
                checkpoint("copied")
                ready = names.next
            checkpoint("load-staged")
            retired = swap_into_place(conn, ready, names.clone, clone_mark, names.retired)
            checkpoint("load-swapped")
        job = BackgroundJob(drop=[names.retired] if retired else [], state_dir=str(state_dir))
        if keep_spare:
            job = BackgroundJob(
                job.drop, names.template, names.spare, f"spare sha256={digest}", str(state_dir)
            )
        start_background(state_dir, server.base_url, job)
    return LoadResult(
        clone_db=names.clone,
        dump=path,
        method=method,
        seconds=time.monotonic() - started,
        created_roles=created,
    )


def _restore_template(
    server: LocalServer,
    conn: psycopg.Connection,
    names: CloneNames,
    path: Path,
    info: dumps.DumpInfo,
    pg_restore: ClientTool,
    jobs: int,
    show_progress: bool,
    state_dir: Path,
    masking: MaskPolicy | None,
) -> list[str]:
    """Restore into a staging database, then make it the template for this dump
    (masked first with `masking` when it is given)."""
    created = create_missing_roles(conn, roles_in_dump(path, pg_restore))
    if created:
        print(f"created NOLOGIN roles the dump references: {', '.join(created)}")
    print(f"restoring with pg_restore {pg_restore.major}.{pg_restore.minor} ({pg_restore.path})")
    try:
        databases.drop(conn, names.restoring)
        databases.create(conn, names.restoring, "staging restore", state_dir=state_dir)
        checkpoint("load-restoring")
        restore_dump(
            server,
            pg_restore,
            path,
            names.restoring,
            jobs=jobs,
            items=info.items,
            show_progress=show_progress,
        )
        checkpoint("restored")
        if masking is not None:
            # Before it becomes the template: every later reset copies masked data.
            local_mask.mask_restored(masking, server, names.restoring)
    except BaseException:
        databases.drop(conn, names.restoring)
        # The roles were made for this restore only: a failed one keeps none of them.
        removed = drop_roles(conn, created)
        if removed:
            print(f"removed the NOLOGIN roles created for it: {', '.join(removed)}")
        raise
    checkpoint("load-restored")
    conn.execute("SELECT 1")  # the restore's sessions have ended; the copy may start
    with background_idle(state_dir):
        # Everything else this clone kept is stale now, including copies that an
        # interrupted command left half made (a template without its mark, say).
        for other in databases.list_databases(conn):
            if belongs_to_clone(other, names.clone) and other.name not in (
                names.clone,
                names.restoring,
            ):
                databases.drop(conn, other.name)
        # Marked before the rename: a database named as the template is always whole.
        lock_connections(conn, names.restoring, False)
        masked = f" {local_mask.template_tag(masking.rules)}" if masking is not None else ""
        databases.mark(
            conn, names.restoring, f"template sha256={names.digest} dump={path.name}{masked}"
        )
        databases.rename(conn, names.restoring, names.template)
    return created


def clear_leftovers(conn: psycopg.Connection, names: CloneNames, state_dir: Path) -> None:
    """Remove what an interrupted or killed command left of this clone's copies.

    Unmarked ones a killed command was creating are dropped before (see
    `creating.reclaim`). Half-dropped (invalid) copies go first: they cannot be copied, renamed or
    connected to. A swap killed between its renames gets its old clone back.
    Staging copies (`__restoring`, `__next`, `__old`, a spare being built) are
    dropped whether or not they are whole: they are never reused.
    """
    with background_idle(state_dir):
        for db in databases.list_databases(conn):
            if db.invalid and belongs_to_clone(db, names.clone):
                databases.drop(conn, db.name)
        if restore_retired(conn, names.retired, names.clone):
            print(f"put {names.clone} back in place: a swap was killed half way")
        for db in databases.list_databases(conn):
            if belongs_to_clone(db, names.clone) and is_staging_of(db.name, names.clone):
                databases.drop(conn, db.name)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
