"""`local.url` in the forms libpq documents, and one line naming the key when it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from prodclone.local.server import LocalServer
from tests.conftest import Project
from tests.local.test_load_clone import fingerprint, make_dump


def test_a_unix_socket_url_without_host_works(
    project: Project, pg: LocalServer, tmp_path: Path
) -> None:
    # The test server listens on the default port (5432) in its own socket folder.
    socket_dir = conninfo_to_dict(pg.base_url)["host"]
    url = f"postgresql:///postgres?host={socket_dir}&user=postgres"
    dump = make_dump(pg, tmp_path)
    project.configure({"app": "sockurl", "local": {"url": url, "keep_spare": False}})
    shown = project.run("db.server")
    assert shown.returncode == 0, shown.stderr
    assert f"external server: {url}" in shown.stdout.splitlines(), shown.stdout
    loaded = project.run("db.load-clone", "--dump", str(dump))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert f"url: postgresql:///sockurl_prod_clone?host={socket_dir}&user=postgres" in loaded.stdout
    customers, _ = fingerprint(pg, "sockurl_prod_clone")
    assert customers[0] == 500
    assert project.run("db.drop-clone", "--yes").returncode == 0


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://me:s3cret@localhost:notaport/db",
        "postgresql://me:s3cret@localhost/db?nosuchparam=1",
        "postgresql://me:s3cret@[::1/db",
    ],
)
def test_a_url_libpq_cannot_read_is_blamed_on_its_key(project: Project, url: str) -> None:
    project.configure({"local": {"url": url}})
    done = project.run("db.server")
    assert done.returncode != 0
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("prodclone: prodclone.local.url is not a valid postgresql:// URL"), line
    assert line.endswith("INVOKE_PRODCLONE_LOCAL_URL"), line
    assert "s3cret" not in line


def test_an_unreachable_local_url_is_blamed_on_its_key(project: Project) -> None:
    project.configure({"local": {"url": "postgresql://u:pw-78@/x?host=/nonexistent-dir"}})
    done = project.run("db.drop-clone", "--yes")
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(
        "prodclone: cannot connect to the local server postgresql://u:***@/x?host=/nonexistent-dir "
        "(prodclone.local.url, INVOKE_PRODCLONE_LOCAL_URL): "
    ), line
    assert "pw-78" not in done.stdout + done.stderr
