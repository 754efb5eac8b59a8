"""A stand-in for AWS's `session-manager-plugin`, for port-forwarding sessions only.

It takes the argv the AWS CLI passes (session JSON or the name of an env var
holding it, region, "StartSession", profile, request parameters JSON, endpoint
URL), prints what the real plugin prints, and relays each TCP connection on
the local port to the Unix socket named by FAKE_PLUGIN_TARGET_SOCKET (the
embedded PostgreSQL), whatever remote host the session names.

Knobs for tests (env): FAKE_PLUGIN_VERSION=X.Y.Z.W is what --version prints;
FAKE_PLUGIN_ARGV_FILE=path appends one JSON line {"argv", "session"} per start.
Faults for tests (env): FAKE_PLUGIN_HANG=1 never opens the port;
FAKE_PLUGIN_EXIT=message prints the message and exits 1 before opening it;
FAKE_PLUGIN_CUT_AFTER_BYTES=N drops every connection after N bytes from the
server; FAKE_PLUGIN_STALL_SECONDS=S waits S seconds before relaying a connection.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time

DEFAULT_VERSION = "1.2.650.0"
SESSION_ENV_VAR = "AWS_SSM_START_SESSION_RESPONSE"


def fail(message: str) -> None:
    print(message, flush=True)
    sys.exit(1)


def pump(source: socket.socket, dest: socket.socket, limit: int | None) -> None:
    sent = 0
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            if limit is not None and sent + len(data) > limit:
                dest.sendall(data[: max(limit - sent, 0)])
                break
            dest.sendall(data)
            sent += len(data)
    except OSError:
        pass
    finally:
        for sock in (source, dest):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def relay(client: socket.socket, session_id: str) -> None:
    print(f"Connection accepted for session [{session_id}]", flush=True)
    stall = float(os.environ.get("FAKE_PLUGIN_STALL_SECONDS", "0") or 0)
    if stall:
        time.sleep(stall)
    cut = os.environ.get("FAKE_PLUGIN_CUT_AFTER_BYTES")
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    upstream.connect(os.environ["FAKE_PLUGIN_TARGET_SOCKET"])
    threading.Thread(target=pump, args=(client, upstream, None), daemon=True).start()
    threading.Thread(
        target=pump, args=(upstream, client, int(cut) if cut else None), daemon=True
    ).start()


def main(argv: list[str]) -> int:
    if argv[1:] == ["--version"]:
        print(os.environ.get("FAKE_PLUGIN_VERSION") or DEFAULT_VERSION)
        return 0
    if len(argv) != 7:
        fail(f"fake plugin: expected 6 arguments, got {len(argv) - 1}")
    session_arg, region, operation, _profile, params_json, endpoint = argv[1:]
    # Like the real plugin: an argument naming the env var means "read the session there".
    from_env = session_arg.startswith(SESSION_ENV_VAR)
    session_json = os.environ.get(session_arg) if from_env else session_arg
    if session_json is None:
        fail(f"fake plugin: env var {session_arg} is not set")
    session = json.loads(session_json or "{}")
    record = os.environ.get("FAKE_PLUGIN_ARGV_FILE")
    if record:
        with open(record, "a") as handle:
            handle.write(json.dumps({"argv": argv[1:], "session": session}) + "\n")
    params = json.loads(params_json)
    if operation != "StartSession" or not region or not endpoint.startswith("http"):
        fail("fake plugin: bad arguments")
    for key in ("SessionId", "TokenValue", "StreamUrl"):
        if key not in session:
            fail(f"fake plugin: session response lacks {key}")
    if params.get("DocumentName") != "AWS-StartPortForwardingSessionToRemoteHost":
        fail("fake plugin: not a port-forwarding session")
    port = int(params["Parameters"]["localPortNumber"][0])
    session_id = session["SessionId"]
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    print(f"\nStarting session with SessionId: {session_id}", flush=True)
    if os.environ.get("FAKE_PLUGIN_EXIT"):
        fail(os.environ["FAKE_PLUGIN_EXIT"])
    if os.environ.get("FAKE_PLUGIN_HANG"):
        while True:
            time.sleep(1)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    while True:  # the real plugin waits, silently, while the port is taken
        try:
            listener.bind(("127.0.0.1", port))
            break
        except OSError:
            time.sleep(0.5)
    listener.listen(16)
    print(f"Port {port} opened for sessionId {session_id}.", flush=True)
    print("Waiting for connections...", flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=relay, args=(client, session_id), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
