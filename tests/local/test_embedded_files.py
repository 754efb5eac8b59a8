"""The embedded server's files on disk: private, and nothing around them opened up."""

from __future__ import annotations

import hashlib
import os
import pwd
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from prodclone.local.embedded import SERVICE_USER, EmbeddedServer
from tests.conftest import Project

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="the server runs as its own user only as root")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def server_uid() -> int:
    return pwd.getpwnam(SERVICE_USER).pw_uid if ROOT else os.geteuid()


@pytest.fixture
def own_server() -> Iterator[list[EmbeddedServer]]:
    """Servers a test starts in its own data folders, stopped afterwards."""
    started: list[EmbeddedServer] = []
    yield started
    for server in started:
        server.stop()


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prodclone: "), result.stderr
    return lines[0]


def test_a_fresh_server_opens_no_parent_and_keeps_its_files_private(
    open_tmp: Path, own_server: list[EmbeddedServer], request: pytest.FixtureRequest
) -> None:
    # A home folder others may pass through but not read (root's server user must
    # pass); a normal user's own home may be fully closed.
    home = open_tmp / "home"
    home.mkdir()
    home.chmod(0o711 if ROOT else 0o700)
    project_dir = home / "shop"
    project_dir.mkdir()
    project_dir.chmod(0o751 if ROOT else 0o750)
    parents = [project_dir, home, open_tmp, *open_tmp.parents]
    before = {folder: mode(folder) for folder in parents}

    project = Project(project_dir, project_dir / ".prodclone", request)
    own_server.append(EmbeddedServer(project.data_dir))
    result = project.run("db.server")
    assert result.returncode == 0, result.stderr
    assert "state: running" in result.stdout

    assert {folder: mode(folder) for folder in parents} == before
    data_dir = project.data_dir
    if ROOT:
        # The server's user passes through to its data; nobody else gets in.
        assert mode(data_dir) == 0o710
        assert os.stat(data_dir).st_uid == 0
        assert os.stat(data_dir).st_gid == pwd.getpwnam(SERVICE_USER).pw_gid
    else:
        assert mode(data_dir) == 0o700
    assert mode(data_dir / "pgdata") == 0o700
    assert mode(data_dir / "server.log") == 0o600
    assert os.stat(data_dir / "server.log").st_uid == server_uid()


def test_an_old_servers_open_log_and_folder_are_closed_at_the_next_start(
    open_tmp: Path, own_server: list[EmbeddedServer]
) -> None:
    server = EmbeddedServer(open_tmp / "data")
    own_server.append(server)
    server.ensure_running()
    server.stop()
    (server.data_dir / "server.log").chmod(0o644)
    server.data_dir.chmod(0o755)
    server.ensure_running()
    assert mode(server.data_dir / "server.log") == 0o600
    assert mode(server.data_dir) in (0o700, 0o710)


@needs_root
def test_root_in_a_closed_home_is_refused_with_what_to_do(
    own_server: list[EmbeddedServer], request: pytest.FixtureRequest
) -> None:
    home = Path(tempfile.mkdtemp(prefix="prodclone-home-"))  # 0700, as a home folder is
    try:
        project_dir = home / "shop"
        project_dir.mkdir()
        project = Project(project_dir, project_dir / ".prodclone", request)
        own_server.append(EmbeddedServer(project.data_dir))
        result = project.run("db.server")
        assert result.returncode == 1, result.stdout + result.stderr
        line = one_line(result)
        assert "PostgreSQL refuses to run as root" in line
        assert f"{home} is closed to other users (mode 0700)" in line
        assert "Run prodclone as a normal user" in line
        assert "prodclone.local.data_dir (INVOKE_PRODCLONE_LOCAL_DATA_DIR)" in line
        assert "prodclone.local.url" in line
        assert mode(home) == 0o700  # not opened
        assert not project.data_dir.exists()  # nothing half-made
    finally:
        subprocess.run(["rm", "-rf", str(home)], check=True)


# -- the socket folder in /tmp, used when the data folder's path is long ----------------


def long_data_dir(base: Path) -> Path:
    """A data folder whose socket path is too long for a Unix socket."""
    return base / ("d" * 40) / ("e" * 40) / "data"


def socket_fallback(data_dir: Path) -> Path:
    """Where the server puts its socket for such a folder: a fixed name in /tmp."""
    pgdata = data_dir.resolve() / "pgdata"
    digest = hashlib.sha256(str(pgdata).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"prodclone-{digest}"


@pytest.fixture
def planted(open_tmp: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Project, Path]]:
    data_dir = long_data_dir(open_tmp)
    folder = socket_fallback(data_dir)
    try:
        yield Project(open_tmp, data_dir, request), folder
    finally:
        if folder.is_symlink():
            folder.unlink()
        elif folder.exists():
            subprocess.run(["rm", "-rf", str(folder)], check=True)


def refused_socket_folder(project: Project, folder: Path) -> str:
    result = project.run("db.server")
    assert result.returncode == 1, result.stdout + result.stderr
    line = one_line(result)
    assert f"socket folder {folder}" in line
    assert "another user may have made it" in line
    assert not EmbeddedServer(project.data_dir).status().running
    return line


@needs_root
def test_a_socket_folder_another_user_made_is_refused_and_left_alone(
    planted: tuple[Project, Path], own_server: list[EmbeddedServer]
) -> None:
    project, folder = planted
    own_server.append(EmbeddedServer(project.data_dir))
    nobody = pwd.getpwnam("nobody")
    folder.mkdir(mode=0o700)
    os.chown(folder, nobody.pw_uid, nobody.pw_gid)
    assert "belongs to nobody" in refused_socket_folder(project, folder)
    assert os.stat(folder).st_uid == nobody.pw_uid  # not taken over


def test_an_open_socket_folder_is_refused(
    planted: tuple[Project, Path], own_server: list[EmbeddedServer]
) -> None:
    project, folder = planted
    own_server.append(EmbeddedServer(project.data_dir))
    folder.mkdir()
    folder.chmod(0o777)
    if ROOT:
        os.chown(folder, server_uid(), -1)
    assert "has mode 0777, not 0700" in refused_socket_folder(project, folder)
    assert mode(folder) == 0o777


def test_a_link_in_place_of_the_socket_folder_is_refused_and_not_followed(
    planted: tuple[Project, Path], open_tmp: Path, own_server: list[EmbeddedServer]
) -> None:
    project, folder = planted
    own_server.append(EmbeddedServer(project.data_dir))
    victim = open_tmp / "victim"
    victim.mkdir(mode=0o755)
    folder.symlink_to(victim)
    assert "is not a folder (a link?)" in refused_socket_folder(project, folder)
    assert os.stat(victim).st_uid == os.geteuid()  # not chowned through the link
    assert mode(victim) == 0o755
    assert list(victim.iterdir()) == []


def test_a_long_data_path_gets_a_private_socket_folder(
    planted: tuple[Project, Path], own_server: list[EmbeddedServer]
) -> None:
    project, folder = planted
    own_server.append(EmbeddedServer(project.data_dir))
    result = project.run("db.server")
    assert result.returncode == 0, result.stderr
    assert mode(folder) == 0o700
    assert os.lstat(folder).st_uid == server_uid()
    assert (folder / ".s.PGSQL.5432").is_socket()


# -- postmaster.pid gone or stale ----------------------------------------------------------


def stop_by_pid(pid: int) -> None:
    """Fast shutdown of a server no pid file leads to, and wait for it to go."""
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def test_a_deleted_postmaster_pid_names_the_running_server_and_how_to_stop_it(
    open_tmp: Path, own_server: list[EmbeddedServer], request: pytest.FixtureRequest
) -> None:
    project = Project(open_tmp, open_tmp / "data", request)
    server = EmbeddedServer(project.data_dir)
    own_server.append(server)
    pid = server.ensure_running().pid
    assert pid is not None
    (server.pgdata / "postmaster.pid").unlink()
    try:
        result = project.run("db.server")
        assert result.returncode == 1, result.stdout + result.stderr
        line = one_line(result)
        assert f"a server (pid {pid}) still runs on {server.pgdata}" in line
        assert "postmaster.pid is gone" in line
        assert f"`kill {pid}`, then run the command again" in line
    finally:
        stop_by_pid(pid)
    again = project.run("db.server")  # what the hint says works
    assert again.returncode == 0, again.stderr


def test_a_stale_postmaster_pid_naming_another_process_says_what_to_do(
    open_tmp: Path, own_server: list[EmbeddedServer], request: pytest.FixtureRequest
) -> None:
    project = Project(open_tmp, open_tmp / "data", request)
    server = EmbeddedServer(project.data_dir)
    own_server.append(server)
    server.ensure_running()
    pid_file = server.pgdata / "postmaster.pid"
    lines = pid_file.read_text().splitlines(keepends=True)
    server.stop()
    # As after a crash and a reboot: the number now belongs to some other process, one
    # the server's user may signal, so PostgreSQL itself takes the file as live.
    other = subprocess.Popen(["sleep", "60"], **({"user": SERVICE_USER} if ROOT else {}))
    try:
        pid_file.write_text(f"{other.pid}\n" + "".join(lines[1:]))
        result = project.run("db.server")
        assert result.returncode == 1, result.stdout + result.stderr
        line = one_line(result)
        assert f"{pid_file} names pid {other.pid}, which is not a PostgreSQL server" in line
        assert "delete that file and run the command again" in line
        pid_file.unlink()
        again = project.run("db.server")
        assert again.returncode == 0, again.stderr
    finally:
        other.kill()
        other.wait()


@needs_root
def test_a_stale_postmaster_pid_naming_a_process_of_another_user_is_started_over(
    open_tmp: Path, own_server: list[EmbeddedServer], request: pytest.FixtureRequest
) -> None:
    """PostgreSQL takes such a file as stale; prodclone must not take it as running."""
    project = Project(open_tmp, open_tmp / "data", request)
    server = EmbeddedServer(project.data_dir)
    own_server.append(server)
    server.ensure_running()
    pid_file = server.pgdata / "postmaster.pid"
    lines = pid_file.read_text().splitlines(keepends=True)
    server.stop()
    other = subprocess.Popen(["sleep", "60"])
    try:
        pid_file.write_text(f"{other.pid}\n" + "".join(lines[1:]))
        if ROOT:
            os.chown(pid_file, server_uid(), -1)
        result = project.run("db.server")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "state: running" in result.stdout
        assert server.status().pid not in (None, other.pid)
    finally:
        other.kill()
        other.wait()
