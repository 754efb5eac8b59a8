"""db.fresh: a database built from nothing by all of the app's migrations.

A build that succeeded is marked with what it was built from (a hash of the migrate
command and of the files `commands.fresh_inputs` names) and with the fingerprint of
the schema it left. refactor-check reuses such a database when both still match,
and builds it again otherwise.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from invoke.context import Context

from prodclone.errors import ProdcloneError
from prodclone.faults import checkpoint
from prodclone.local.appcmd import TERMINAL, CommandResult, Echo, Fold, run_command
from prodclone.local.commands import AppCommands
from prodclone.local.lock import local_lock
from prodclone.local.roundtrip import round_trip
from prodclone.local.server import LocalServer
from prodclone.pg import creating, databases
from prodclone.pg.fingerprint import catalog_fingerprint
from prodclone.pg.names import COPY_NAMES, DatabaseNames, collides

# Where the docs say how an app command is pointed at a database.
DB_ENV_DOCS = 'docs/configuration.md, "How app commands find their database"'


class MigratedElsewhere(ProdcloneError):
    """The migrate command succeeded but did not touch the database it was given."""


def migrated_elsewhere(dbname: str) -> MigratedElsewhere:
    return MigratedElsewhere(
        f"the migrate command exited 0 but left {dbname} empty: it migrated some other "
        "database. Make the app take its database from DATABASE_URL, or map its own "
        f"variables in prodclone.local.db_env (see {DB_ENV_DOCS})"
    )


@dataclass(frozen=True)
class FreshInputs:
    """What a fresh build is made from; `digest` is empty when it cannot be told."""

    digest: str
    files: int
    # Patterns that matched no file: a typo would otherwise freeze the build forever.
    unmatched: tuple[str, ...] = ()

    @property
    def reusable(self) -> bool:
        return bool(self.digest) and not self.unmatched


def fresh_inputs(commands: AppCommands) -> FreshInputs:
    """Hash the migrate command and the content of every file `commands.fresh_inputs` names."""
    patterns = commands.fresh_inputs
    if not patterns:
        return FreshInputs("", 0)
    project = commands.folder
    found: set[Path] = set()
    unmatched = []
    for pattern in patterns:
        matched = {path for path in project.glob(pattern) if path.is_file()}
        if not matched:
            unmatched.append(pattern)
        found |= matched
    digest = hashlib.sha256()
    for part in (commands.migrate, *sorted(commands.db_env.items())):
        digest.update(repr(part).encode() + b"\0")
    for path in sorted(found):
        digest.update(path.relative_to(project).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return FreshInputs(digest.hexdigest()[:32], len(found), tuple(unmatched))


def _mark_text(inputs: FreshInputs, catalog: str) -> str:
    return f"fresh inputs={inputs.digest or '-'} catalog={catalog}"


def _marked(comment: str, key: str) -> str:
    for word in comment.split():
        if word.startswith(f"{key}="):
            return word[len(key) + 1 :]
    return ""


def reusable_fresh(server: LocalServer, dbname: str, inputs: FreshInputs) -> bool:
    """True when `dbname` is ours, was built whole from `inputs`, and is unchanged since."""
    if not inputs.reusable:
        return False
    with server.connect() as conn:
        info = databases.find(conn, dbname)
    if info is None or not info.ours or info.role != "fresh":
        return False
    if _marked(info.comment, "inputs") != inputs.digest:
        return False
    with server.connect(dbname) as conn:
        fingerprint = catalog_fingerprint(conn)
    return not fingerprint.empty and _marked(info.comment, "catalog") == fingerprint.short


def refuse_clone_names(dbname: str, clone_db: str) -> None:
    """A fresh build under a name the clone uses would replace the clone, or be compared
    with itself by the schema gate."""
    if collides(dbname, clone_db):
        raise ProdcloneError(
            f"{dbname!r} is a name the clone {clone_db!r} uses (the clone, or one of its "
            f"copies: {COPY_NAMES}); nothing was changed: build the fresh database under "
            "another name"
        )


def build_fresh(
    commands: AppCommands,
    server: LocalServer,
    names: DatabaseNames,
    state_dir: Path,
    jobs: int,
    name: str | None = None,
    *,
    echo: Echo = TERMINAL,
    fold: Fold | None = None,
    context: Context | None = None,
) -> CommandResult:
    """Drop and recreate the fresh database (`name`, by default `names.fresh`), then run
    the migrate command against it.

    `state_dir` is prodclone's private folder (the record of a database being made);
    `jobs` is how many pg_restore jobs the round trip uses.

    Returns the command's result (check `.ok`); the database is left as the
    command left it, for a look at what went wrong. A command that succeeded but
    left the database empty raises MigratedElsewhere. A database the command
    built whole is sent through pg_dump and pg_restore, the route the clone took,
    and then marked with its inputs, for `reusable_fresh`.
    """
    command = commands.require_migrate()
    dbname = name or names.fresh
    refuse_clone_names(dbname, names.clone)
    inputs = fresh_inputs(commands)
    with local_lock(server, "db.fresh"), server.connect() as conn:
        for leftover in creating.reclaim(conn, state_dir, databases.MARK):
            print(f"dropped {leftover}, left unmarked by a prodclone command that was killed")
        existing = databases.require_ours_or_absent(conn, dbname)
        if existing is not None and not existing.invalid and existing.role != "fresh":
            # `--name <another clone>` must not become a way to overwrite it.
            raise ProdcloneError(
                f"{dbname} is prodclone's {existing.role or 'database'}, not a fresh build; "
                "nothing was changed (name another with --name or prodclone.local.fresh_db)"
            )
        databases.drop(conn, dbname)
        databases.create(conn, dbname, "fresh", state_dir=state_dir)
    checkpoint("fresh-created")
    env = commands.env(server, dbname)
    result = run_command(
        context, command, env, label="migrate", cwd=commands.folder, echo=echo, fold=fold
    )
    if not result.ok:
        return result
    with server.connect(dbname) as conn:
        if catalog_fingerprint(conn).empty:
            raise migrated_elsewhere(dbname)
    checkpoint("fresh-migrated")
    round_trip(server, dbname, "fresh", jobs, state_dir)
    # Taken after the round trip: some expressions come back from it in another form.
    with server.connect(dbname) as conn:
        fingerprint = catalog_fingerprint(conn)
    with server.connect() as conn:
        databases.mark(conn, dbname, _mark_text(inputs, fingerprint.short))
    return result
