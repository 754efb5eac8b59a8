"""Send a freshly migrated database through pg_dump and pg_restore, as the clone came.

The clone is always a pg_restore of a pg_dump; a database built by migrations
is not. PostgreSQL stores some expressions differently after the round trip
(a `varchar IN (...)` CHECK or index predicate comes back with its casts
moved), so a fresh build compared as it was migrated shows differences that
are only the route each side took. After the round trip both sides are
dump/restore artefacts and the schema gate compares like with like.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from prodclone.errors import ProdcloneError
from prodclone.faults import checkpoint
from prodclone.local.dumpfit import choose_pg_restore
from prodclone.local.lock import local_lock
from prodclone.local.restore import restore_dump
from prodclone.local.server import LocalServer
from prodclone.pg import databases
from prodclone.pg.tools import ClientTool, find_matching_tool

STAGING_SUFFIX = "__restoring"


def round_trip(
    server: LocalServer, dbname: str, comment: str, jobs: int, state_dir: Path | None = None
) -> None:
    """Replace `dbname` with a pg_restore of its own `pg_dump -Fc`, marked with `comment`.

    The restore goes into a staging database that takes `dbname`'s place only
    when whole; on failure `dbname` stays as it was and the error says why.
    """
    major = server.major_version()
    # pg_dump of the server's own major, so its archive is one that server's pg_restore reads.
    pg_dump = find_matching_tool("pg_dump", major, server.extra_bin_dirs)
    staging = dbname + STAGING_SUFFIX
    # 0700 folder, and the dump inside it is gone when the round trip ends.
    with tempfile.TemporaryDirectory(prefix="prodclone-fresh-") as folder:
        dump = Path(folder) / f"{dbname}.dump"
        _dump(server, pg_dump, dbname, dump)
        # The same choice db.load-clone makes for the clone, so both sides take one route.
        pg_restore, _ = choose_pg_restore(server, major, dump)
        with local_lock(server, "db.fresh"), server.connect() as conn:
            databases.drop(conn, staging)
            databases.create(conn, staging, "staging restore", state_dir=state_dir)
            try:
                restore_dump(
                    server, pg_restore, dump, staging, jobs=jobs, items=1, show_progress=False
                )
            except BaseException:
                databases.drop(conn, staging)
                raise
            checkpoint("fresh-restored")
            # Marked before the rename: a database under `dbname` is always whole.
            databases.mark(conn, staging, comment)
            databases.drop(conn, dbname)
            databases.rename(conn, staging, dbname)


def _dump(server: LocalServer, pg_dump: ClientTool, dbname: str, target: Path) -> None:
    env = {**os.environ, **server.libpq_env(dbname)}
    args = [str(pg_dump.path), "--format=custom", "--no-password", f"--file={target}"]
    done = subprocess.run(args, env=env, capture_output=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        raise ProdcloneError(f"pg_dump of {dbname} (for its dump/restore round trip): {reason}")
