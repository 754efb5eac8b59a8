"""db.drop-clone: remove the clone's databases (only ours), the fresh database, the dumps.

What goes is chosen apart: the clone with its templates and spares, a fresh
database (`local.fresh_db`, or one `db.fresh --name X` built), the dump files.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg

from prodclone.errors import ProdcloneError
from prodclone.local.copies import background_idle
from prodclone.local.loader import belongs_to_clone
from prodclone.local.lock import local_lock
from prodclone.local.paths import Paths
from prodclone.local.server import LocalServer
from prodclone.mask.record import record_path
from prodclone.pg import databases, dumps
from prodclone.pg.names import DatabaseNames


@dataclass(frozen=True)
class DropPlan:
    databases: list[databases.DatabaseInfo]
    dump_files: list[Path]
    include_fresh: bool = False
    include_clone: bool = True
    fresh_db: str = ""

    @property
    def empty(self) -> bool:
        return not self.databases and not self.dump_files

    def describe(self) -> list[str]:
        lines = [f"database {db.name} ({db.role}, {_size(db.size_bytes)})" for db in self.databases]
        lines += [f"dump {path} ({_size(dumps.size_on_disk(path))})" for path in self.dump_files]
        return lines


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _ours_to_drop(
    conn: psycopg.Connection, clone: str, plan: DropPlan
) -> list[databases.DatabaseInfo]:
    found = []
    for db in databases.list_databases(conn):
        if plan.include_clone and belongs_to_clone(db, clone):
            found.append(db)
        elif plan.include_fresh and db.name == plan.fresh_db:
            if db.ours and db.role != "fresh":
                # `--fresh --name <the clone>` must not become a way round the clone's rules.
                raise ProdcloneError(
                    f"{db.name} is prodclone's {db.role or 'database'}, not a fresh build; "
                    "nothing was dropped"
                )
            if db.ours:
                found.append(db)
    return found


def dump_files(folder: Path) -> list[Path]:
    """The dumps in `folder` that are ours to delete, files and directory-format folders.

    A `prod-*.dump` folder counts only when it holds a `toc.dat` (what `pg_dump
    --format=directory`, `--jobs N`, writes); a `.partial` one is an interrupted
    dump of ours, toc or not. Links are never followed.
    """
    if not folder.is_dir():
        return []
    found = [path for path in sorted(folder.glob(dumps.DUMP_GLOB)) if _looks_like_a_dump(path)]
    found += sorted(folder.glob(dumps.DUMP_GLOB + dumps.PARTIAL_SUFFIX))
    return found


def _looks_like_a_dump(path: Path) -> bool:
    if path.is_symlink() or not path.is_dir():
        return True
    return (path / "toc.dat").is_file()


def _delete(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def plan_local_drop(
    server: LocalServer,
    paths: Paths,
    names: DatabaseNames,
    *,
    include_fresh: bool,
    include_dumps: bool,
    include_clone: bool = True,
    fresh_db: str = "",
) -> DropPlan:
    """What to drop: the clone unless `include_clone` is off, the fresh database
    (`fresh_db`, by default `names.fresh`) with `include_fresh`, the dumps (in
    `paths.dumps`) with `include_dumps`."""
    files = dump_files(paths.dumps) if include_dumps else []
    plan = DropPlan([], files, include_fresh, include_clone, fresh_db or names.fresh)
    with server.connect() as conn:
        found = _ours_to_drop(conn, names.clone, plan)
    return DropPlan(found, files, include_fresh, include_clone, plan.fresh_db)


def drop_local(
    server: LocalServer, paths: Paths, names: DatabaseNames, plan: DropPlan
) -> list[str]:
    """Drop the clone's databases as they are once background work is done.

    They are listed again here: a spare the background job finished after the
    plan was shown is the clone's too.
    """
    done: list[str] = []
    with (
        local_lock(server, "db.drop-clone"),
        server.connect() as conn,
        background_idle(paths.state),
    ):
        for db in _ours_to_drop(conn, names.clone, plan):
            if databases.drop(conn, db.name):
                done.append(f"dropped database {db.name}")
    failed = []
    for path in plan.dump_files:
        try:
            _delete(path)
            record_path(path).unlink(missing_ok=True)  # what its masking was, beside it
        except OSError as exc:
            # The other dumps still go: each one left is personal data left.
            failed.append(f"{path} ({exc.strerror or exc})")
            continue
        done.append(f"deleted {path}")
    if failed:
        raise DumpsLeft(done, failed)
    return done


class DumpsLeft(ProdcloneError):
    """Some dumps could not be deleted; the others were."""

    def __init__(self, done: list[str], failed: list[str]) -> None:
        super().__init__(f"could not delete {len(failed)} dump(s): {'; '.join(failed)}")
        self.done = done
