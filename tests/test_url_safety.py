"""URLs as a user gives them: passwords never shown, remote hosts refused by any route."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from prodclone.local.server import LocalServer
from prodclone.pg.conninfo import mask
from tests.conftest import Project
from tests.local.test_load_clone import make_dump

PASSWORD = "Hunter2-pw"


def shown(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prodclone: "), result.stderr
    return lines[0]


def socket_query(pg: LocalServer) -> str:
    return urlsplit(pg.base_url).query


# -- item: every message that quotes a URL masks it ------------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (f"postgresql://app:{PASSWORD}%zz@localhost/shop", "invalid percent-encoded token"),
        (f"postgresql://app:{PASSWORD}@[::1/shop", 'matching "]" in IPv6 host address'),
        (f"postgresql://app:{PASSWORD}/x@localhost/shop", "its port is not a number"),
        (f"postgresql://app@localhost/shop?password={PASSWORD}%zz", "percent-encoded"),
    ],
)
def test_a_local_url_that_does_not_parse_is_named_without_its_password(
    project: Project, url: str, problem: str
) -> None:
    project.configure({"local": {"url": url}})
    result = project.run("db.server")
    assert result.returncode == 2, shown(result)
    line = one_line(result)
    assert "prodclone.local.url is not a valid postgresql:// URL" in line
    assert problem in line
    assert "INVOKE_PRODCLONE_LOCAL_URL" in line
    assert PASSWORD not in shown(result)


def test_a_url_of_another_kind_is_refused_with_its_password_masked(project: Project) -> None:
    project.configure({"local": {"url": f"mysql://app:{PASSWORD}@localhost/shop"}})
    result = project.run("db.server")
    assert result.returncode == 2, shown(result)
    assert "must be a postgresql:// URL or empty (got 'mysql://app:***@localhost/shop')" in (
        one_line(result)
    )
    assert PASSWORD not in shown(result)


def test_sqlalchemy_urls_are_accepted_as_local_url(project: Project, pg: LocalServer) -> None:
    """What SQLAlchemy apps hold (`postgresql+psycopg://`) works as it is."""
    url = f"postgresql+psycopg://postgres:{PASSWORD}@/postgres?{socket_query(pg)}"
    project.configure({"local": {"url": url}})
    result = project.run("db.server")
    assert result.returncode == 0, shown(result)
    assert "external server: postgresql://postgres:***@/postgres?" in result.stdout
    assert PASSWORD not in shown(result)


def test_a_remote_sqlalchemy_url_is_refused_without_its_password(project: Project) -> None:
    project.configure({"local": {"url": f"postgresql+psycopg://app:{PASSWORD}@db.invalid/shop"}})
    result = project.run("db.server")
    assert result.returncode == 1, shown(result)
    assert "points at 'db.invalid'" in one_line(result)
    assert PASSWORD not in shown(result)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://app:{PASSWORD}%zz@localhost/x",
        f"postgresql://app:{PASSWORD}@[zz::1]/x",
        f"postgresql://app:{PASSWORD}@[::1/x",
        f"postgresql://app:{PASSWORD}/x@localhost/x",
    ],
)
def test_schema_diff_url_errors_never_show_the_password(
    project: Project, pg: LocalServer, url: str
) -> None:
    result = project.run("db.schema-diff", "-a", url, "-b", "postgres")
    assert result.returncode == 2, shown(result)
    assert "-a is not a valid postgresql:// URL" in one_line(result)
    assert PASSWORD not in shown(result)


def test_schema_diff_takes_sqlalchemy_urls(project: Project, pg: LocalServer) -> None:
    url = f"postgresql+psycopg://postgres:{PASSWORD}@/postgres?{socket_query(pg)}"
    result = project.run("db.schema-diff", "-a", url, "-b", url)
    assert result.returncode == 0, shown(result)
    assert PASSWORD not in shown(result)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://app:{PASSWORD}@db.invalid/x",
        f"postgresql://app:{PASSWORD}#x@db.invalid/x",  # libpq reads up to the @
        f"postgresql://app:{PASSWORD}?x@db.invalid/x",
        f"postgresql://app:{PASSWORD}/x@db.invalid/x",  # libpq: no user info, port "Hunter2-pw"
        f"postgresql://app@db.invalid/x?password={PASSWORD}&sslmode=disable",
        f"postgresql://app@db.invalid/x?pass%77ord={PASSWORD}",
        f"postgresql+psycopg://app:{PASSWORD}@db.invalid/x",
        f"postgresql://app:{PASSWORD}%zz@db.invalid/x",
        f"postgresql://app:{PASSWORD}@[::1/x",
        f"postgresql://app:{PASSWORD}@[zz::1]/x",
        f"host=db.invalid password={PASSWORD}",
        f"host=db.invalid password='{PASSWORD}",
    ],
)
def test_mask_never_fails_and_never_shows_the_password(url: str) -> None:
    assert PASSWORD not in mask(url)


# -- item: remote hosts by a service definition ----------------------------------------


def service_file(folder: Path, name: str, host: str) -> Path:
    path = folder / "pg_service.conf"
    path.write_text(f"# a team's services\n[{name}]\nhost={host}\ndbname=shop\n")
    return path


@pytest.mark.parametrize("route", ["url", "PGSERVICE"])
def test_a_service_naming_a_remote_host_is_refused(
    project: Project, tmp_path: Path, route: str
) -> None:
    services = service_file(tmp_path, "prod", "db.invalid")
    url = "postgresql://app@/shop?service=prod" if route == "url" else "postgresql://app@/shop"
    project.configure({"local": {"url": url}})
    env = {"PGSERVICEFILE": str(services)}
    if route == "PGSERVICE":
        env["PGSERVICE"] = "prod"
    result = project.run("db.server", env=env)
    assert result.returncode == 1, shown(result)
    assert "points at 'db.invalid', which is not this machine" in one_line(result)


def test_a_service_found_through_pgsysconfdir_is_checked_too(
    project: Project, tmp_path: Path
) -> None:
    service_file(tmp_path, "prod", "db.invalid")
    project.configure({"local": {"url": "postgresql://app@/shop?service=prod"}})
    result = project.run(
        "db.server",
        env={"PGSYSCONFDIR": str(tmp_path), "PGSERVICEFILE": str(tmp_path / "none.conf")},
    )
    assert result.returncode == 1, shown(result)
    assert "points at 'db.invalid'" in one_line(result)


def test_a_service_naming_this_machine_is_used(
    project: Project, pg: LocalServer, tmp_path: Path
) -> None:
    query = parse_qs(socket_query(pg))
    services = tmp_path / "pg_service.conf"
    services.write_text(f"[here]\nhost={query['host'][0]}\nport={query['port'][0]}\n")
    app = f"svc_{uuid.uuid4().hex[:8]}"
    url = "postgresql://postgres@/postgres?service=here"
    project.configure({"app": app, "local": {"url": url, "keep_spare": False}})
    env = {"PGSERVICEFILE": str(services)}
    result = project.run("db.server", env=env)
    assert result.returncode == 0, shown(result)
    assert "PostgreSQL 18" in result.stdout
    # pg_restore goes through the same service, not the default socket.
    make_dump(pg, project.root / "dump")
    loaded = project.run("db.load-clone", env=env)
    assert loaded.returncode == 0, shown(loaded)
    assert "restored in full" in loaded.stdout
    dropped = project.run("db.drop-clone", "--yes", env=env)
    assert dropped.returncode == 0, shown(dropped)
