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

from prodclone import dumps
from prodclone.errors import ProdcloneError
from prodclone.local import databases
from prodclone.local import masking as local_mask
from prodclone.local.copies import (
    BackgroundJob,
    background_idle,
    copy_database,
    lock_connections,
    start_background,
    swap_into_place,
)
from prodclone.local.dumpfit import check_extensions, choose_pg_restore
from prodclone.local.lock import local_lock
from prodclone.local.restore import restore_dump
from prodclone.local.roles import create_missing_roles, roles_in_dump
from prodclone.local.server import LocalServer
from prodclone.local.tools import ClientTool
from prodclone.settings import Settings


@dataclass(frozen=True)
class LoadResult:
    clone_db: str
    dump: Path
    method: str  # "restore", "template" or "spare"
    seconds: float
    created_roles: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CloneNames:
    """Every database name one clone uses; all share the clone's name as prefix."""

    clone: str
    digest: str

    @property
    def template(self) -> str:
        return f"{self.clone}__tpl_{self.digest[:12]}"

    @property
    def spare(self) -> str:
        return f"{self.clone}__spare_{self.digest[:12]}"

    @property
    def restoring(self) -> str:
        return f"{self.clone}__restoring"

    @property
    def next(self) -> str:
        return f"{self.clone}__next"

    @property
    def retired(self) -> str:
        return f"{self.clone}__old"


def belongs_to_clone(info: databases.DatabaseInfo, clone: str) -> bool:
    return info.ours and (info.name == clone or info.name.startswith(clone + "__"))


def load_clone(
    settings: Settings,
    server: LocalServer,
    dump: Path | None,
    *,
    force_restore: bool = False,
    jobs: int | None = None,
    show_progress: bool = True,
    mask: bool = False,
) -> LoadResult:
    started = time.monotonic()
    path = (dump or dumps.newest_dump(settings.dump_dir)).resolve()
    if mask and not settings.mask.rules:
        raise ProdcloneError(
            "--mask needs rules: set prodclone.mask.rules in invoke.yaml (docs/masking.md)"
        )
    major = server.major_version()
    pg_restore, info = choose_pg_restore(server, major, path)
    with server.connect() as conn:
        check_extensions(conn, info, server)
    digest = dumps.checksum(path, settings.local.data_dir / "checksums.json")
    names = CloneNames(settings.local.clone_db, digest)
    clone_mark = f"clone sha256={digest} dump={path.name} loaded={_now()}"
    state_dir = settings.local.data_dir

    with local_lock(server, "db.load-clone"), server.connect() as conn:
        databases.require_ours_or_absent(conn, names.clone)
        template = databases.find(conn, names.template)
        masked_here = template is not None and local_mask.template_masked(
            template.comment, settings.mask.rules
        )
        created: list[str] = []
        if (
            template is None
            or force_restore
            or template.role != "template"
            or (mask and not masked_here)
        ):
            created = _restore_template(
                settings, server, conn, names, path, info, pg_restore, jobs, show_progress, mask
            )
            method, masked_here = "restore", mask
        else:
            method = "template"
        warning = local_mask.unmasked_warning(settings, path, masked_here)
        if warning:
            print(warning)
        with background_idle(state_dir):
            spare = databases.find(conn, names.spare)
            if method == "template" and spare is not None and spare.role == "spare":
                ready, method = names.spare, "spare"
            else:
                databases.drop(conn, names.next)
                copy_database(conn, names.next, names.template, "staging")
                ready = names.next
            retired = swap_into_place(conn, ready, names.clone, clone_mark, names.retired)
        job = BackgroundJob(drop=[names.retired] if retired else [])
        if settings.local.keep_spare:
            job = BackgroundJob(job.drop, names.template, names.spare, f"spare sha256={digest}")
        start_background(state_dir, server.base_url, job)
    return LoadResult(
        clone_db=names.clone,
        dump=path,
        method=method,
        seconds=time.monotonic() - started,
        created_roles=created,
    )


def _restore_template(
    settings: Settings,
    server: LocalServer,
    conn: psycopg.Connection,
    names: CloneNames,
    path: Path,
    info: dumps.DumpInfo,
    pg_restore: ClientTool,
    jobs: int | None,
    show_progress: bool,
    mask: bool = False,
) -> list[str]:
    """Restore into a staging database, then make it the template for this dump."""
    created = create_missing_roles(conn, roles_in_dump(path, pg_restore))
    if created:
        print(f"created NOLOGIN roles the dump references: {', '.join(created)}")
    print(f"restoring with pg_restore {pg_restore.major}.{pg_restore.minor} ({pg_restore.path})")
    databases.drop(conn, names.restoring)
    databases.create(conn, names.restoring, "staging restore")
    try:
        restore_dump(
            server,
            pg_restore,
            path,
            names.restoring,
            jobs=jobs or settings.local.restore_jobs,
            items=info.items,
            show_progress=show_progress,
        )
        if mask:
            # Before it becomes the template: every later reset copies masked data.
            local_mask.mask_restored(settings, server, names.restoring)
    except BaseException:
        databases.drop(conn, names.restoring)
        raise
    conn.execute("SELECT 1")  # the restore's sessions have ended; the copy may start
    with background_idle(settings.local.data_dir):
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
        masked = f" {local_mask.template_tag(settings.mask.rules)}" if mask else ""
        databases.mark(
            conn, names.restoring, f"template sha256={names.digest} dump={path.name}{masked}"
        )
        databases.rename(conn, names.restoring, names.template)
    return created


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
