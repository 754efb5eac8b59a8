"""A bastion stand-in: an SSH server (paramiko) that only serves `direct-tcpip` forwards.

There is no sshd here. Every forward, whatever host it names, is relayed to the
Unix socket given (the embedded PostgreSQL); the requested destinations are kept
for the test to check.
"""

from __future__ import annotations

import socket
from pathlib import Path

import paramiko  # type: ignore[import-untyped]

from tests.fakes.tcp_relay import LocalListener, relay_to_unix


class _Bastion(paramiko.ServerInterface):  # type: ignore[misc]
    def __init__(self, allowed_key: paramiko.PKey, destinations: list[tuple[str, int]]) -> None:
        self.allowed_key = allowed_key
        self.destinations = destinations

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if key.get_fingerprint() == self.allowed_key.get_fingerprint():
            return int(paramiko.AUTH_SUCCESSFUL)
        return int(paramiko.AUTH_FAILED)

    def check_channel_direct_tcpip_request(
        self, chanid: int, origin: tuple[str, int], destination: tuple[str, int]
    ) -> int:
        self.destinations.append((destination[0], int(destination[1])))
        return int(paramiko.OPEN_SUCCEEDED)

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return int(paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED)


class FakeBastion(LocalListener):
    def __init__(self, target_socket: str, client_key: paramiko.PKey) -> None:
        super().__init__()
        self.target_socket = target_socket
        self.client_key = client_key
        self.host_key = paramiko.RSAKey.generate(2048)
        self.destinations: list[tuple[str, int]] = []
        self._transports: list[paramiko.Transport] = []

    def stop(self) -> None:
        super().stop()
        for transport in self._transports:
            transport.close()

    def accepted(self, client: socket.socket) -> None:
        transport = paramiko.Transport(client)
        self._transports.append(transport)
        transport.add_server_key(self.host_key)
        transport.start_server(server=_Bastion(self.client_key, self.destinations))
        while transport.is_active():
            channel = transport.accept(timeout=1)
            if channel is None:
                continue
            relay_to_unix(channel, self.target_socket)


def write_ssh_home(home: Path, host_alias: str, port: int) -> paramiko.RSAKey:
    """A HOME whose ~/.ssh/config sends `host_alias` to the fake bastion with a fresh key."""
    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = paramiko.RSAKey.generate(2048)
    key.write_private_key_file(str(ssh_dir / "id_test"))
    (ssh_dir / "config").write_text(
        f"Host {host_alias}\n"
        "  HostName 127.0.0.1\n"
        f"  Port {port}\n"
        "  User tester\n"
        f"  IdentityFile {ssh_dir / 'id_test'}\n"
        "  IdentitiesOnly yes\n"
    )
    return key
