"""Dump files: naming, the private folder they live in, validation, the newest one.

Dumps hold production's personal data: the folder is 0700 and git-ignored,
each file 0600, and a dump being written is `*.partial` until it is whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prodclone.errors import ProdcloneError
from prodclone.pg.tools import ClientTool
from prodclone.private import DUMPS_WHY, make_private_dir

DUMP_GLOB = "prod-*.dump"
PARTIAL_SUFFIX = ".partial"
_CUSTOM_MAGIC = b"PGDMP"
_DUMPED_FROM = re.compile(r"^;\s+Dumped from database version: (\d+)", re.MULTILINE)
_DUMPED_BY = re.compile(r"^;\s+Dumped by pg_dump version: (\d+)", re.MULTILINE)
# `<id>; <catalog> <oid> EXTENSION - <name> <owner>`; a COMMENT on one reads `COMMENT - EXTENSION`.
_EXTENSION = re.compile(r"^\d+; \d+ \d+ EXTENSION - (\S+)", re.MULTILINE)


def new_dump_path(dump_dir: Path, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return dump_dir / f"prod-{stamp}.dump"


def prepare_dump_dir(dump_dir: Path, project_dir: Path) -> list[str]:
    """Create the folder private (0700) and make sure git ignores it; returns what was done."""
    return make_private_dir(dump_dir, project_dir, DUMPS_WHY)


def newest_dump(dump_dir: Path) -> Path:
    dumps = sorted(dump_dir.glob(DUMP_GLOB)) if dump_dir.is_dir() else []
    if not dumps:
        raise ProdcloneError(
            f"no dump found in {dump_dir} (looked for {DUMP_GLOB}); "
            "run `inv db.clone-prod` first or pass --dump PATH"
        )
    return max(dumps, key=lambda path: (path.stat().st_mtime, path.name))


@dataclass(frozen=True)
class DumpInfo:
    path: Path
    size_bytes: int
    items: int  # table-of-contents entries, the restore's unit of progress
    source_major: int | None = None  # the server it was dumped from
    pg_dump_major: int | None = None  # the pg_dump that wrote it
    extensions: tuple[str, ...] = ()


def check_dump(path: Path, pg_restore: ClientTool) -> DumpInfo:
    """A readable custom-format dump with a table of contents, or one clear error."""
    if not path.exists():
        raise ProdcloneError(f"dump {path} does not exist; pass --dump PATH or run db.clone-prod")
    if path.is_dir():
        if not (path / "toc.dat").exists():
            raise ProdcloneError(f"{path} is a folder but not a directory-format dump (no toc.dat)")
    else:
        size = path.stat().st_size
        if size == 0:
            raise ProdcloneError(f"dump {path} is empty; take a new one with `inv db.clone-prod`")
        with path.open("rb") as handle:
            if handle.read(5) != _CUSTOM_MAGIC:
                raise ProdcloneError(
                    f"{path} is not a pg_dump custom-format file; dumps are made with "
                    "`pg_dump -Fc` (or `inv db.clone-prod`)"
                )
    listing = pg_restore.output("--list", str(path), failure=f"dump {path} cannot be read")
    entries = [line for line in listing.splitlines() if line and not line.startswith(";")]
    return DumpInfo(
        path=path,
        size_bytes=size_on_disk(path),
        items=len(entries),
        source_major=_first_number(_DUMPED_FROM, listing),
        pg_dump_major=_first_number(_DUMPED_BY, listing),
        extensions=tuple(sorted(set(_EXTENSION.findall(listing)))),
    )


def _first_number(pattern: re.Pattern[str], listing: str) -> int | None:
    match = pattern.search(listing)
    return int(match.group(1)) if match else None


def size_on_disk(path: Path) -> int:
    """Bytes in a dump file, or in all files of a directory-format dump; 0 if absent."""
    if path.is_dir():
        return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
    return path.stat().st_size if path.exists() else 0


def checksum(path: Path, cache_file: Path | None = None) -> str:
    """SHA-256 of a dump, remembered by (path, size, mtime) so a reset need not re-read it."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    cache: dict[str, str] = {}
    if cache_file is not None and cache_file.exists():
        try:
            cache = json.loads(cache_file.read_text())
        except (OSError, json.JSONDecodeError):
            cache = {}
        if key in cache:
            return cache[key]
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        with file.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    value = digest.hexdigest()
    if cache_file is not None:
        cache[key] = value
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")  # two loads at once
        tmp.write_text(json.dumps(cache))
        tmp.replace(cache_file)
    return value
