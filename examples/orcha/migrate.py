"""Apply orcha's migrations (yoyo-migrations) to the database the environment names.

    python examples/orcha/migrate.py                     # all migrations + the corrected rename
    python examples/orcha/migrate.py --pending flawed    # the rename's flawed first draft
    python examples/orcha/migrate.py --pending none      # what production runs today

ORCHA_EXTRA_MIGRATIONS (folders, `:`-separated) adds more migrations after these.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from yoyo import get_backend, read_migrations

sys.path.insert(0, str(Path(__file__).resolve().parent))
from orcha_db import database_name, database_url, extra_folders

HERE = Path(__file__).resolve().parent
PENDING_CHOICES = ("corrected", "flawed", "none")


def yoyo_url(url: str) -> str:
    # yoyo's plain `postgresql://` scheme means psycopg2; this project uses psycopg 3.
    return urlsplit(url)._replace(scheme="postgresql+psycopg").geturl()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pending",
        choices=PENDING_CHOICES,
        default=os.environ.get("ORCHA_PENDING", "corrected"),
        help="which version of the pending rename migration to apply (default: corrected)",
    )
    args = parser.parse_args()
    sources = [str(HERE / "migrations")]
    if args.pending != "none":
        sources.append(str(HERE / "pending" / args.pending))
    sources += [str(folder) for folder in extra_folders()]
    migrations = read_migrations(*sources)
    backend = get_backend(yoyo_url(database_url()))
    with backend.lock():
        todo = backend.to_apply(migrations)
        print(f"orcha migrate: {database_name()}: {len(todo)} migration(s) to apply", flush=True)
        for migration in todo:
            print(f"orcha migrate: applying {migration.id}", flush=True)
            try:
                backend.apply_one(migration)
            except Exception as exc:  # the driver's error, shown as one line
                reason = " ".join(str(exc).split())
                print(f"orcha migrate: {migration.id} failed: {reason}", file=sys.stderr)
                return 1
    print("orcha migrate: done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
