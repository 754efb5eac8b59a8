"""Ways to reach the throwaway instance: an SSM port forward, an SSH forward, or direct.

Each is a context manager yielding the local (host, port) to connect to, and
tearing its tunnel down in `finally` whatever happened inside.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prodclone.errors import ProdcloneError
from prodclone.guard.signals import shielded

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

PORT_FORWARD_DOCUMENT = "AWS-StartPortForwardingSessionToRemoteHost"
# Plugins newer than this read the session from an env var named in argv, which keeps
# the session token out of the process list (the AWS CLI makes the same choice).
ENV_VAR_PLUGIN_MIN = (1, 2, 497, 0)
SESSION_ENV_VAR = "AWS_SSM_START_SESSION_RESPONSE"
SSH_BASTION_MISSING = (
    "prodclone.aws.bastion is not set: with tunnel ssh it must name the SSH host "
    "(INVOKE_PRODCLONE_AWS_BASTION)"
)
# How long the plugin gets to close its session after SIGINT before SIGKILL.
PLUGIN_STOP_SECONDS = 5.0
_PORT_OPENED = re.compile(r"Port (\d+) opened")


@dataclass(frozen=True)
class LocalEnd:
    host: str
    port: int
    parallel_ok: bool  # whether several connections (pg_dump --jobs) may share it


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise ProdcloneError(
                f"local port {port} is already in use; free it or set "
                "prodclone.aws.local_port to another port (0 picks a free one)"
            ) from None


def find_plugin(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ProdcloneError(
            f"the SSM plugin {name!r} is not on PATH; install the AWS Session Manager plugin "
            "(https://docs.aws.amazon.com/systems-manager/latest/userguide/"
            "session-manager-working-with-install-plugin.html) or set prodclone.aws.ssm_plugin"
        )
    return path


def plugin_invocation(
    plugin_path: str,
    version: tuple[int, ...],
    *,
    session: dict[str, str],
    region: str,
    profile: str,
    request: dict[str, Any],
    endpoint_url: str,
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment `aws ssm start-session` gives the plugin.

    Order: session, region, "StartSession", profile, request JSON, endpoint URL. The
    session is JSON in argv for old plugins; newer ones get the name of an env var
    holding it, which keeps the session token out of the process list.
    """
    env = dict(os.environ)
    session_arg = json.dumps(session)
    if version > ENV_VAR_PLUGIN_MIN:
        env[SESSION_ENV_VAR] = session_arg
        session_arg = SESSION_ENV_VAR
    argv = [
        plugin_path,
        session_arg,
        region,
        "StartSession",
        profile,
        json.dumps(request),
        endpoint_url,
    ]
    return argv, env


def plugin_version(path: str) -> tuple[int, ...]:
    try:
        out = subprocess.run(
            [path, "--version"],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ()
    match = re.search(r"(\d+(?:\.\d+)+)", out)
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


class _PluginOutput:
    """Drains the plugin's output on a thread so it can never block on a full pipe."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.port = port
        self.lines: deque[str] = deque(maxlen=50)  # the tail is enough to say what went wrong
        self.opened = threading.Event()
        self._thread = threading.Thread(target=self._drain, args=(process,), daemon=True)
        self._thread.start()

    def _drain(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip())
            opened = _PORT_OPENED.search(line)
            if opened and int(opened.group(1)) == self.port:
                self.opened.set()

    def join(self) -> None:
        self._thread.join(timeout=5)

    def last(self) -> str:
        meaningful = [line for line in self.lines if line.strip()]
        return meaningful[-1] if meaningful else "no output"


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def _stop_process_group(process: subprocess.Popen[str]) -> None:
    """SIGINT (the plugin closes its session on it), wait, SIGKILL, reap.

    The plugin leads its own group (start_new_session), so the group id is its pid;
    the final SIGKILL goes out while the leader is still unreaped, so that id cannot
    have been reused by then, and it takes anything the plugin left in its group.
    """
    if process.returncode is not None:
        return  # already reaped (it exited on its own): its group id may be reused by now
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    deadline = time.monotonic() + PLUGIN_STOP_SECONDS
    while not _exited_unreaped(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()  # reap


def _exited_unreaped(pid: int) -> bool:
    """Whether the process has exited, leaving it a zombie (WNOWAIT) so its pid stays taken."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


@contextlib.contextmanager
def ssm_tunnel(
    ssm: SSMClient,
    *,
    plugin: str,
    bastion: str,
    remote_host: str,
    remote_port: int,
    local_port: int,
    region: str,
    profile: str,
    ready_seconds: float,
    on_started: Callable[[str, int], None] = lambda session_id, plugin_pid: None,
) -> Iterator[LocalEnd]:
    """Port-forward through an SSM managed instance, the way `aws ssm start-session` does.

    `on_started(session_id, plugin_pid)` hears of the plugin as soon as it runs.
    """
    plugin_path = find_plugin(plugin)
    check_port_free(local_port)
    request: dict[str, Any] = {
        "Target": bastion,
        "DocumentName": PORT_FORWARD_DOCUMENT,
        "Parameters": {
            "host": [remote_host],
            "portNumber": [str(remote_port)],
            "localPortNumber": [str(local_port)],
        },
    }
    session_id = ""
    process: subprocess.Popen[str] | None = None
    output: _PluginOutput | None = None
    try:
        # Inside the try: an interrupt right after the answer still ends the session.
        response = ssm.start_session(**request)
        session_id = str(response["SessionId"])
        argv, env = plugin_invocation(
            plugin_path,
            plugin_version(plugin_path),
            session={
                "SessionId": session_id,
                "TokenValue": str(response["TokenValue"]),
                "StreamUrl": str(response["StreamUrl"]),
            },
            region=region,
            profile=profile,
            request=request,
            endpoint_url=ssm.meta.endpoint_url,
        )
        process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # our own group: a terminal Ctrl-C is ours to relay
        )
        on_started(session_id, process.pid)
        output = _PluginOutput(process, local_port)
        deadline = time.monotonic() + ready_seconds
        while not (output.opened.is_set() and _accepts(local_port)):
            if process.poll() is not None:
                output.join()
                raise ProdcloneError(
                    f"session-manager-plugin exited ({process.returncode}) before the tunnel "
                    f"opened: {output.last()}"
                )
            if time.monotonic() > deadline:
                raise ProdcloneError(
                    f"the SSM tunnel did not open within {ready_seconds:.0f}s "
                    f"(plugin said: {output.last()}); check the bastion {bastion} runs the "
                    "SSM agent, or raise prodclone.aws.tunnel_ready_seconds"
                )
            if output.opened.is_set():
                time.sleep(0.1)  # opened but not accepting yet: do not spin on refusals
            else:
                output.opened.wait(0.1)
        yield LocalEnd("127.0.0.1", local_port, parallel_ok=True)
    finally:
        with shielded():
            try:
                if process is not None:
                    _stop_process_group(process)
                if output is not None:
                    output.join()
            finally:
                if session_id:
                    _terminate_session(ssm, session_id)


def _terminate_session(ssm: SSMClient, session_id: str) -> None:
    """Close the session on AWS's side; if that fails it ends by itself when idle, so warn."""
    try:
        ssm.terminate_session(SessionId=session_id)
    except Exception as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        print(
            f"prodclone: warning: could not terminate SSM session {session_id} ({reason}); "
            f"it ends when idle, or run: aws ssm terminate-session --session-id {session_id}",
            file=sys.stderr,
        )


@contextlib.contextmanager
def ssh_tunnel(
    bastion: str, *, remote_host: str, remote_port: int, local_port: int, ready_seconds: float
) -> Iterator[LocalEnd]:
    """Forward a local port through an SSH bastion (Fabric, using ~/.ssh/config)."""
    if not bastion:
        raise ProdcloneError(SSH_BASTION_MISSING)
    check_port_free(local_port)
    from fabric import Connection

    connection = Connection(bastion)
    try:
        try:
            connection.open()
        except Exception as exc:
            raise ProdcloneError(
                f"cannot open an SSH connection to the bastion {bastion}: {exc}; "
                "check ~/.ssh/config and that `ssh " + bastion + "` works"
            ) from None
        with connection.forward_local(
            local_port=local_port,
            remote_port=remote_port,
            remote_host=remote_host,
            local_host="127.0.0.1",
        ):
            # The forward listens from a background thread: wait until it accepts.
            deadline = time.monotonic() + ready_seconds
            while not _accepts(local_port):
                if time.monotonic() > deadline:
                    raise ProdcloneError(
                        f"the SSH forward on port {local_port} did not open within "
                        f"{ready_seconds:.0f}s"
                    )
                time.sleep(0.1)
            yield LocalEnd("127.0.0.1", local_port, parallel_ok=True)
    finally:
        with shielded():
            connection.close()


@contextlib.contextmanager
def direct(remote_host: str, remote_port: int) -> Iterator[LocalEnd]:
    """No tunnel: the instance is reachable as it is (VPN, peering)."""
    yield LocalEnd(remote_host, remote_port, parallel_ok=True)
