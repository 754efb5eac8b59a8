"""db.server --stop: stop the embedded server once the work on it is done."""

from __future__ import annotations

from prodclone.local.copies import background_idle
from prodclone.local.embedded import EmbeddedServer
from prodclone.local.lock import local_lock
from prodclone.local.server import ServerChoice, resolve_server


def stop_embedded(local: ServerChoice) -> bool:
    """Stop the embedded server; False when it was not running.

    It waits for a command at work in another terminal and for the background
    spare build, which would otherwise fail halfway and leave a staging copy.
    """
    server = EmbeddedServer(local.data_dir)
    if not server.status().running:
        return False
    running = resolve_server(local, start=False)
    with local_lock(running, "db.server --stop"), background_idle(local.data_dir):
        return server.stop()
