"""A TCP port that relays to a Unix socket: a "reachable RDS endpoint" for `tunnel: direct`."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any, Self


def pump(source: Any, dest: Any) -> None:
    """Copy one direction until either end closes; then shut both (sockets or SSH channels)."""
    try:
        while data := source.recv(65536):
            dest.sendall(data)
    except (OSError, EOFError):
        pass
    finally:
        for end in (source, dest):
            with contextlib.suppress(Exception):
                end.shutdown(socket.SHUT_RDWR)


def relay_to_unix(client: Any, target_socket: str) -> None:
    """Relay `client` both ways to a fresh connection to the Unix socket, on two threads."""
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    upstream.connect(target_socket)
    threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pump, args=(upstream, client), daemon=True).start()


class LocalListener:
    """A TCP port on 127.0.0.1 whose connections go to `accepted`, each on a thread."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._listener.close()

    def accepted(self, client: socket.socket) -> None:
        raise NotImplementedError

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self.accepted, args=(client,), daemon=True).start()


class TcpToUnixRelay(LocalListener):
    def __init__(self, target_socket: str) -> None:
        super().__init__()
        self.target_socket = target_socket
        self.connections = 0

    def accepted(self, client: socket.socket) -> None:
        self.connections += 1
        relay_to_unix(client, self.target_socket)
