"""db.drop-clone picks what goes: the clone, a fresh database, or both."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

from prodclone.local.embedded import bin_dir
from prodclone.local.server import LocalServer
from tests.conftest import Project
from tests.local.test_load_clone import app_project, clone_of, list_in, make_dump

__all__ = ["app_project"]  # the fixture, shared with the load-clone tests

# A migrate command that builds something: one that leaves the database empty is refused.
MIGRATE = "psql -q -v ON_ERROR_STOP=1 -c 'CREATE TABLE t (id int)'"


# db.fresh refuses a build that leaves the database empty (an app writing elsewhere).
MIGRATE = "psql -X -q -c 'CREATE TABLE built (id int)'"


def configure(project: Project, **more: object) -> None:
    """No spare copy: one built in the background would come and go during the test."""
    app = project.app  # type: ignore[attr-defined]
    project.configure({"app": app, "local": {"keep_spare": False}, **more})


def ours_of(pg: LocalServer, prefix: str) -> set[str]:
    return {db.name for db in list_in(pg) if db.name.startswith(prefix)}


def test_fresh_drops_only_a_fresh_database(app_project: Project, pg: LocalServer) -> None:
    app = app_project.app  # type: ignore[attr-defined]
    configure(app_project, commands={"migrate": MIGRATE})
    make_dump(pg, app_project.root / "dump")
    assert app_project.run("db.load-clone").returncode == 0
    other = f"{app}_other"
    assert app_project.run("db.fresh").returncode == 0
    assert app_project.run("db.fresh", "--name", other).returncode == 0
    clone_dbs = ours_of(pg, clone_of(app_project))
    assert len(clone_dbs) >= 2  # the clone and its template at least

    dropped = app_project.run("db.drop-clone", "--fresh", "--yes")
    assert dropped.returncode == 0, dropped.stderr
    assert dropped.stdout.splitlines()[-1:] == [f"dropped database {app}_fresh"]
    assert "prod_clone" not in dropped.stdout
    assert ours_of(pg, app) == clone_dbs | {other}

    named = app_project.run("db.drop-clone", "--fresh", "--name", other, "--yes")
    assert named.returncode == 0, named.stderr
    assert named.stdout.splitlines()[-1:] == [f"dropped database {other}"]
    assert "prod_clone" not in named.stdout
    assert ours_of(pg, app) == clone_dbs

    again = app_project.run("db.drop-clone", "--fresh", "--name", other, "--yes")
    assert (again.returncode, again.stdout) == (0, "nothing to drop: no fresh database\n")


def test_fresh_name_never_reaches_the_clone_and_needs_fresh(
    app_project: Project, pg: LocalServer
) -> None:
    configure(app_project)
    make_dump(pg, app_project.root / "dump")
    assert app_project.run("db.load-clone").returncode == 0
    clone = clone_of(app_project)
    before = ours_of(pg, clone)
    refused = app_project.run("db.drop-clone", "--fresh", "--name", clone, "--yes")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"prodclone: {clone} is prodclone's clone, not a fresh build; nothing was dropped"
    )
    alone = app_project.run("db.drop-clone", "--name", f"x_{uuid.uuid4().hex[:6]}", "--yes")
    assert alone.returncode == 2
    assert alone.stderr.strip() == "prodclone: --name names a fresh database: give it with --fresh"
    assert ours_of(pg, clone) == before


def test_all_drops_the_clone_and_the_fresh_database(app_project: Project, pg: LocalServer) -> None:
    app = app_project.app  # type: ignore[attr-defined]
    configure(app_project, commands={"migrate": MIGRATE})
    make_dump(pg, app_project.root / "dump")
    assert app_project.run("db.load-clone").returncode == 0
    assert app_project.run("db.fresh").returncode == 0
    dropped = app_project.run("db.drop-clone", "--all", "--yes")
    assert dropped.returncode == 0, dropped.stderr
    assert f"dropped database {app}_fresh" in dropped.stdout
    assert f"dropped database {clone_of(app_project)}\n" in dropped.stdout
    assert ours_of(pg, app) == set()


def directory_dump(pg: LocalServer, target: Path) -> Path:
    """What `db.clone-prod --jobs N` writes: pg_dump's directory format (a folder with toc.dat)."""
    done = subprocess.run(
        [str(bin_dir() / "pg_dump"), "-Fd", "-j", "2", "-f", str(target), pg.url("postgres")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (target / "toc.dat").is_file()
    return target


def test_dumps_deletes_directory_dumps_and_partial_leftovers(
    app_project: Project, pg: LocalServer
) -> None:
    folder = app_project.root / "dump"
    single = make_dump(pg, folder, name="prod-20250101T000000Z.dump")
    parallel = directory_dump(pg, folder / "prod-20250102T000000Z.dump")
    partial_file = folder / "prod-20250103T000000Z.dump.partial"
    partial_file.write_bytes(b"PGDMP half of it")
    partial_folder = folder / "prod-20250104T000000Z.dump.partial"
    partial_folder.mkdir()
    (partial_folder / "3001.dat.gz").write_bytes(b"half of a table")
    # A folder with a dump's name but no dump in it is not ours to delete.
    stranger = folder / "prod-notes.dump"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    configure(app_project)

    listed = app_project.run("db.drop-clone", "--dumps", "--dry-run")
    assert listed.returncode == 0, listed.stderr
    assert f"would drop dump {parallel} (" in listed.stdout
    assert str(stranger) + " " not in listed.stdout

    dropped = app_project.run("db.drop-clone", "--dumps", "--yes")
    assert dropped.returncode == 0, dropped.stderr
    assert dropped.stderr.count("Traceback") == 0
    for path in (single, parallel, partial_file, partial_folder):
        assert f"deleted {path}\n" in dropped.stdout
        assert not path.exists()
    assert (stranger / "notes.txt").read_text() == "mine"
