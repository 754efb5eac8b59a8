"""The clone survives anything: half-dropped copies, killed commands, signals in the swap,
names that collide, and other clients on a shared server.

Each test stops a real `inv` at a known step (the PRODCLONE_TEST_FAULT hook), hits
it with a real signal or a real server-side fault, then runs the next ordinary
command, which must succeed with the clone whole and nothing left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import psycopg
import pytest

from prodclone.local.server import LocalServer
from prodclone.pg import databases, dumps
from tests.conftest import Project, run_sql
from tests.local.test_load_clone import (
    clone_of,
    fingerprint,
    make_dump,
    wait_spare,
)

HOOK = "PRODCLONE_TEST_FAULT"


@pytest.fixture
def proj(project: Project) -> Project:
    """A project whose app name (and so clone name) no other test uses."""
    app = f"app_{uuid.uuid4().hex[:8]}"
    project.configure({"app": app})
    project.app = app  # type: ignore[attr-defined]
    return project


def names_like(pg: LocalServer, prefix: str) -> set[str]:
    with pg.connect() as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,)
        ).fetchall()
    return {row[0] for row in rows}


def info(pg: LocalServer, name: str) -> databases.DatabaseInfo | None:
    with pg.connect() as conn:
        return databases.find(conn, name)


def takes_connections(pg: LocalServer, name: str) -> bool:
    with pg.connect() as conn:
        row = conn.execute(
            "SELECT datallowconn FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
    return bool(row and row[0])


def start_inv(project: Project, *args: str, hook: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        cwd=project.root,
        env={**os.environ, "NO_COLOR": "1", HOOK: hook},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def wait_for_hook(process: subprocess.Popen[str], step: str) -> list[str]:
    """Read stderr until the hook announces itself at `step`; the lines read so far."""
    assert process.stderr is not None
    seen: list[str] = []
    for line in process.stderr:
        seen.append(line)
        if line.startswith("test hook:") and line.rstrip().endswith(f" at {step}"):
            return seen
    out = process.stdout.read() if process.stdout else ""
    raise AssertionError(f"never reached {step}: {''.join(seen)}{out}")


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=120)
    return process.returncode, err


def half_drop(pg: LocalServer, name: str) -> None:
    """Cut a real DROP DATABASE short past its point of no return: `name` is left invalid.

    As PostgreSQL's own test of interrupted drops does: the drop marks the
    database invalid, then reads pg_tablespace, where a lock holds it until it
    is cancelled (as Ctrl-C cancels it). Connections are made before the lock,
    since opening one reads pg_tablespace too.
    """
    blocker = psycopg.connect(pg.url("postgres"))
    dropper = psycopg.connect(pg.url("postgres"), autocommit=True)
    watcher = psycopg.connect(pg.url("postgres"), autocommit=True)
    errors: list[BaseException] = []

    def drop() -> None:
        try:
            dropper.execute(f'DROP DATABASE "{name}"')
        except psycopg.errors.QueryCanceled as exc:
            errors.append(exc)

    try:
        blocker.execute("LOCK TABLE pg_catalog.pg_tablespace IN ACCESS EXCLUSIVE MODE")
        thread = threading.Thread(target=drop)
        thread.start()
        for _ in range(300):
            waiting = watcher.execute(
                "SELECT 1 FROM pg_locks WHERE NOT granted AND pid = %s "
                "AND relation = 'pg_catalog.pg_tablespace'::regclass",
                (dropper.info.backend_pid,),
            ).fetchone()
            if waiting:
                break
            time.sleep(0.1)
        watcher.execute("SELECT pg_cancel_backend(%s)", (dropper.info.backend_pid,))
        thread.join(30)
    finally:
        blocker.rollback()
        for conn in (blocker, dropper, watcher):
            conn.close()
    assert errors, f"the drop of {name} was not cut short"
    assert name in invalid_databases(pg), f"{name} is not left invalid"


def invalid_databases(pg: LocalServer) -> set[str]:
    """What PostgreSQL marks invalid (half dropped): datconnlimit -2."""
    with pg.connect() as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datconnlimit = -2").fetchall()
    return {row[0] for row in rows}


# -- 1. half-dropped databases --------------------------------------------------------


MARKER = {"spare": "__spare_", "template": "__tpl_"}


@pytest.mark.parametrize("which", ["spare", "template", "clone"])
def test_half_dropped_copies_of_ours_are_dropped_first(
    proj: Project, pg: LocalServer, which: str
) -> None:
    make_dump(pg, proj.root / "dump")
    assert proj.run("db.load-clone").returncode == 0
    wait_spare(proj)
    clone = clone_of(proj)
    before = fingerprint(pg, clone)
    copies = names_like(pg, clone + "__")
    target = clone if which == "clone" else next(n for n in copies if MARKER[which] in n)
    half_drop(pg, target)
    found = info(pg, target)
    assert found is not None and found.ours  # still carries its mark
    # Another client's database, half dropped too: not ours, so left as it is.
    foreign = f"{clone}_other"
    with pg.connect() as conn:
        conn.execute(f'CREATE DATABASE "{foreign}"')
    half_drop(pg, foreign)
    try:
        listed = proj.run("db.drop-clone", "--dry-run")
        assert listed.returncode == 0, listed.stderr
        assert foreign not in listed.stdout

        loaded = proj.run("db.load-clone")
        assert loaded.returncode == 0, loaded.stderr
        assert fingerprint(pg, clone) == before
        assert takes_connections(pg, clone)
        wait_spare(proj)
        again = proj.run("db.load-clone")
        assert again.returncode == 0, again.stderr
        assert fingerprint(pg, clone) == before
        wait_spare(proj)
        assert invalid_databases(pg) == {foreign}  # not ours: never dropped
    finally:
        with pg.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{foreign}"')


def test_a_database_dropped_while_listing_is_left_out(pg: LocalServer) -> None:
    """Another client drops one of ours after the list's snapshot was taken."""
    name = f"t_vanish_{os.getpid()}"
    with pg.connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        databases.mark(conn, name, "staging")
    with psycopg.connect(pg.url("postgres")) as lister:
        lister.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        lister.execute("SELECT 1")  # the snapshot: the database is in it
        with pg.connect() as other:
            other.execute(f'DROP DATABASE "{name}"')
        found = databases.list_databases(lister)
    assert name not in [db.name for db in found]


# -- 2. leftovers after SIGTERM and SIGKILL ---------------------------------------------


def _setup_for(project: Project, pg: LocalServer, kind: str) -> tuple[list[str], str]:
    """The command to interrupt and the database it creates first."""
    app = project.app  # type: ignore[attr-defined]
    project.configure(
        {
            "app": app,
            "local": {"keep_spare": False},
            "commands": {"migrate": "psql -v ON_ERROR_STOP=1 -qc 'CREATE TABLE t (id int)'"},
        }
    )
    clone = clone_of(project)
    if kind == "fresh":
        return ["db.fresh"], f"{app}_fresh"
    make_dump(pg, project.root / "dump")
    if kind == "restore":
        return ["db.load-clone"], clone + "__restoring"
    assert project.run("db.load-clone").returncode == 0
    return ["db.load-clone"], clone + "__next"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("kind", ["restore", "reset", "fresh"])
def test_killed_between_create_and_mark_the_next_run_drops_the_leftover(
    proj: Project, pg: LocalServer, kind: str, sig: signal.Signals
) -> None:
    command, created = _setup_for(proj, pg, kind)
    killed = start_inv(proj, *command, hook="database-created:pause")
    try:
        wait_for_hook(killed, "database-created")
        killed.send_signal(sig)
        finish(killed)
    finally:
        if killed.poll() is None:
            killed.kill()
    left = info(pg, created)
    if sig == signal.SIGTERM:
        # Taken like Ctrl-C: the database is marked ours before the command gives way.
        assert killed.returncode == 130
        assert left is None or left.ours
    else:
        assert left is not None and not left.ours  # what used to block every later run

    again = proj.run(*command)
    assert again.returncode == 0, again.stderr
    if sig == signal.SIGKILL:
        assert f"dropped {created}, left unmarked by a prodclone command that was killed" in (
            again.stdout
        )
    wait_spare(proj)
    if kind == "fresh":
        assert info(pg, created) is not None and info(pg, created).role == "fresh"  # type: ignore[union-attr]
    else:
        clone = clone_of(proj)
        assert fingerprint(pg, clone)[0][0] == 500  # type: ignore[index]
        leftovers = {n for n in names_like(pg, clone + "__") if "__tpl_" not in n}
        assert leftovers == set()
    records = proj.data_dir / "creating"
    assert not records.exists() or list(records.iterdir()) == []


def test_a_marked_restoring_copy_is_dropped_by_the_next_load(
    proj: Project, pg: LocalServer
) -> None:
    """Killed after its restore: the next load drops it, though it needs no restore itself."""
    make_dump(pg, proj.root / "dump")
    assert proj.run("db.load-clone").returncode == 0
    clone = clone_of(proj)
    before = fingerprint(pg, clone)
    killed = start_inv(proj, "db.load-clone", "--restore", hook="restored:pause")
    try:
        wait_for_hook(killed, "restored")
        killed.kill()
        finish(killed)
    finally:
        if killed.poll() is None:
            killed.kill()
    found = info(pg, clone + "__restoring")
    assert found is not None and found.ours
    again = proj.run("db.load-clone")
    assert again.returncode == 0, again.stderr
    assert "restored in full" not in again.stdout
    assert info(pg, clone + "__restoring") is None
    assert fingerprint(pg, clone) == before


# -- 3. the swap ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sig",
    [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL],
    ids=["SIGINT", "SIGTERM", "SIGHUP", "SIGKILL"],
)
def test_a_signal_in_the_swap_leaves_a_whole_clone(
    proj: Project, pg: LocalServer, sig: signal.Signals
) -> None:
    proj.configure({"app": proj.app, "local": {"keep_spare": False}})  # type: ignore[attr-defined]
    make_dump(pg, proj.root / "dump")
    assert proj.run("db.load-clone").returncode == 0
    clone = clone_of(proj)
    before = fingerprint(pg, clone)
    run_sql(pg, clone, "TRUNCATE orders")  # what the swap replaces

    swapping = start_inv(proj, "db.load-clone", hook="load-swapping:slow")
    try:
        wait_for_hook(swapping, "load-swapping")
        swapping.send_signal(sig)
        code, err = finish(swapping)
    finally:
        if swapping.poll() is None:
            swapping.kill()
    assert code != 0
    if sig != signal.SIGKILL:
        # The swap ended first: the new clone is in place and takes connections.
        assert "putting the clone in place first, then stopping" in err
        assert fingerprint(pg, clone) == before
        assert takes_connections(pg, clone)
        assert info(pg, clone).role == "clone"  # type: ignore[union-attr]
        assert clone + "__next" not in names_like(pg, clone)

    again = proj.run("db.load-clone")
    assert again.returncode == 0, again.stderr
    wait_spare(proj)
    assert fingerprint(pg, clone) == before
    assert takes_connections(pg, clone)
    assert {n for n in names_like(pg, clone + "__") if "__tpl_" not in n} == set()


def test_a_client_on_the_next_copy_does_not_stop_the_swap(proj: Project, pg: LocalServer) -> None:
    """pgAdmin or a monitoring agent connected to `__next` just before the swap."""
    proj.configure({"app": proj.app, "local": {"keep_spare": False}})  # type: ignore[attr-defined]
    make_dump(pg, proj.root / "dump")
    assert proj.run("db.load-clone").returncode == 0
    clone = clone_of(proj)
    before = fingerprint(pg, clone)
    loading = start_inv(proj, "db.load-clone", hook="copied:slow")
    watcher = None
    try:
        wait_for_hook(loading, "copied")
        watcher = psycopg.connect(pg.url(clone + "__next"), autocommit=True)
        watcher.execute("SELECT 1")
        code, err = finish(loading)
    finally:
        if loading.poll() is None:
            loading.kill()
        if watcher is not None:
            watcher.close()
    assert code == 0, err
    assert fingerprint(pg, clone) == before
    assert takes_connections(pg, clone)


def test_a_failed_swap_puts_the_old_clone_back(proj: Project, pg: LocalServer) -> None:
    proj.configure({"app": proj.app, "local": {"keep_spare": False}})  # type: ignore[attr-defined]
    make_dump(pg, proj.root / "dump")
    assert proj.run("db.load-clone").returncode == 0
    clone = clone_of(proj)
    run_sql(pg, clone, "DELETE FROM orders WHERE id > 10")  # the clone as the app left it
    changed = fingerprint(pg, clone)
    mark_before = info(pg, clone).comment  # type: ignore[union-attr]

    failed = proj.run("db.load-clone", env={HOOK: "load-swapping"})
    assert failed.returncode != 0
    assert fingerprint(pg, clone) == changed
    assert takes_connections(pg, clone)
    assert info(pg, clone).comment == mark_before  # type: ignore[union-attr]

    again = proj.run("db.load-clone")
    assert again.returncode == 0, again.stderr
    assert fingerprint(pg, clone)[1][0] == 2000  # type: ignore[index]


# -- 5. names that collide --------------------------------------------------------------


@pytest.mark.parametrize("fresh", ["{clone}", "{clone}__tpl_0123456789ab", "{clone}__next"])
def test_a_fresh_db_named_like_the_clone_is_refused(
    proj: Project, pg: LocalServer, fresh: str
) -> None:
    clone = f"c_{uuid.uuid4().hex[:6]}"  # short: a copy's name must fit in fresh_db too
    proj.configure(
        {
            "local": {"clone_db": clone, "fresh_db": fresh.format(clone=clone)},
            "commands": {"migrate": "true"},
        }
    )
    for command in (["refactor-check"], ["db.fresh"], ["db.load-clone"]):
        result = proj.run(*command)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert "prodclone.local.fresh_db" in lines[0] and "prodclone.local.clone_db" in lines[0]
        assert "INVOKE_PRODCLONE_LOCAL_FRESH_DB" in lines[0]


@pytest.mark.parametrize("suffix", ["", "__next", "__old"])
def test_fresh_name_cannot_overwrite_the_clone(proj: Project, pg: LocalServer, suffix: str) -> None:
    proj.configure({"app": proj.app, "commands": {"migrate": "true"}})  # type: ignore[attr-defined]
    make_dump(pg, proj.root / "dump")
    assert proj.run("db.load-clone").returncode == 0
    clone = clone_of(proj)
    before = fingerprint(pg, clone)
    result = proj.run("db.fresh", "--name", clone + suffix)
    assert result.returncode == 1
    assert "is a name the clone" in result.stderr and "nothing was changed" in result.stderr
    assert fingerprint(pg, clone) == before


def test_fresh_name_cannot_overwrite_another_clone(proj: Project, pg: LocalServer) -> None:
    """Another project's clone on the same server is ours too, but no fresh build."""
    proj.configure({"app": proj.app, "commands": {"migrate": "true"}})  # type: ignore[attr-defined]
    make_dump(pg, proj.root / "dump")
    assert proj.run("db.load-clone").returncode == 0
    clone = clone_of(proj)
    before = fingerprint(pg, clone)
    proj.configure({"app": "other", "commands": {"migrate": "true"}})
    result = proj.run("db.fresh", "--name", clone)
    assert result.returncode == 1
    assert f"{clone} is prodclone's clone, not a fresh build" in result.stderr
    assert fingerprint(pg, clone) == before


def test_another_projects_database_sharing_the_prefix_is_not_a_copy(
    proj: Project, pg: LocalServer
) -> None:
    make_dump(pg, proj.root / "dump")
    assert proj.run("db.load-clone").returncode == 0
    clone = clone_of(proj)
    neighbour = f"{clone}__staging"  # another project's clone, named so
    with pg.connect() as conn:
        conn.execute(f'CREATE DATABASE "{neighbour}"')
        databases.mark(conn, neighbour, "clone sha256=0 dump=x loaded=y")
    try:
        assert proj.run("db.load-clone", "--restore").returncode == 0
        dropped = proj.run("db.drop-clone", "--yes")
        assert dropped.returncode == 0, dropped.stderr
        assert neighbour not in dropped.stdout
        assert info(pg, neighbour) is not None
        assert info(pg, clone) is None
    finally:
        with pg.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{neighbour}"')


# -- 17. roles of a failed restore, look-alikes found before anything changes -----------

FAILING_RESTORE_SQL = """
CREATE FUNCTION only_here() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF current_database() LIKE '%\\_\\_restoring' THEN RAISE EXCEPTION 'not in a clone'; END IF;
  RETURN true;
END $$;
CREATE TABLE picky (n int CHECK (only_here()));
INSERT INTO picky VALUES (1);
"""


def test_roles_created_for_a_failed_restore_are_removed(proj: Project, pg: LocalServer) -> None:
    role = f"prod_owner_{proj.app}"  # type: ignore[attr-defined]
    with pg.connect() as conn:
        conn.execute(f'CREATE ROLE "{role}"')
    make_dump(
        pg,
        proj.root / "dump",
        FAILING_RESTORE_SQL + f'ALTER TABLE orders OWNER TO "{role}";',
    )
    with pg.connect() as conn:
        conn.execute(f'DROP OWNED BY "{role}"')
        conn.execute(f'DROP ROLE "{role}"')
    result = proj.run("db.load-clone")
    assert result.returncode == 1
    assert f"created NOLOGIN roles the dump references: {role}" in result.stdout
    assert f"removed the NOLOGIN roles created for it: {role}" in result.stdout
    with pg.connect() as conn:
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None
    assert names_like(pg, clone_of(proj)) == set()


def test_a_look_alike_template_name_is_refused_before_anything_changes(
    proj: Project, pg: LocalServer
) -> None:
    make_dump(pg, proj.root / "dump")
    assert proj.run("db.load-clone").returncode == 0
    wait_spare(proj)
    clone = clone_of(proj)
    kept = names_like(pg, clone)
    newer = make_dump(pg, proj.root / "dump", "INSERT INTO orders (total) VALUES (1);")
    look_alike = f"{clone}__tpl_{dumps.checksum(newer)[:12]}"
    with pg.connect() as conn:
        conn.execute(f'CREATE DATABASE "{look_alike}"')  # someone else's, unmarked
    try:
        refused = proj.run("db.load-clone", "--dump", str(newer))
        assert refused.returncode == 1
        assert f"database {look_alike!r} exists but was not made by prodclone" in refused.stderr
        assert names_like(pg, clone) == kept | {look_alike}  # the spare and template stay
    finally:
        with pg.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{look_alike}"')
