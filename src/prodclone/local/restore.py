"""`pg_restore -j` into a database, with progress; the restore's errors end it."""

from __future__ import annotations

import os
import re
import subprocess
from collections import deque
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from prodclone.errors import ProdcloneError
from prodclone.local.server import LocalServer
from prodclone.pg.tools import ClientTool

# Serial items print "processing item N", parallel ones "finished item N".
_ITEM_DONE = re.compile(
    r"^pg_restore: (?:finished item \d+"
    r"|processing item \d+ (?!ENCODING|STDSTRINGS|SEARCHPATH|DATABASE\b))"
)


def restore_dump(
    server: LocalServer,
    pg_restore: ClientTool,
    dump: Path,
    dbname: str,
    *,
    jobs: int,
    items: int,
    show_progress: bool = True,
) -> None:
    env = {**os.environ, **server.libpq_env(dbname)}
    args = [
        str(pg_restore.path),
        "--verbose",
        "--no-password",
        f"--jobs={jobs}",
        f"--dbname={dbname}",
        str(dump),
    ]
    errors: list[str] = []
    recent: deque[str] = deque(maxlen=5)
    progress = Progress(
        TextColumn("restoring {task.fields[name]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not show_progress,
        transient=False,
    )
    with progress:
        bar = progress.add_task("restore", total=max(items, 1), name=dump.name)
        process = subprocess.Popen(
            args,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            # Object names come in the dump's own encoding (LATIN1, say): never fail on them.
            errors="backslashreplace",
        )
        assert process.stderr is not None
        try:
            for line in process.stderr:
                line = line.rstrip("\n")
                if _ITEM_DONE.match(line):
                    progress.advance(bar)
                elif line.startswith("pg_restore: error:") or line.startswith(
                    "pg_restore: warning:"
                ):
                    errors.append(line)
                elif not line.startswith("pg_restore: "):
                    recent.append(line)
            process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        progress.update(bar, completed=max(items, 1))
    if process.returncode != 0:
        first = next((e for e in errors if e.startswith("pg_restore: error:")), None)
        detail = first or (errors[-1] if errors else " / ".join(recent) or "no detail")
        raise ProdcloneError(
            f"pg_restore of {dump.name} failed ({len(errors)} errors; first: "
            f"{detail.removeprefix('pg_restore: ')})"
        )
