"""db tasks for the local server: server, load-clone, fresh, drop-clone."""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from prodclone.tasks._common import domain_errors, settings_of


@task(help={"stop": "Stop the embedded server instead of showing it."})
def server(c: Context, stop: bool = False) -> None:
    """Show the local server's URL and state (starts the embedded one)."""
    with domain_errors():
        from prodclone.local.embedded import EmbeddedServer
        from prodclone.local.server import resolve_server

        settings = settings_of(c)
        if stop:
            if not settings.local.embedded:
                print("prodclone.local.url is set: that server is not ours to stop")
                return
            stopped = EmbeddedServer(settings.local.data_dir).stop()
            print("embedded server stopped" if stopped else "embedded server was not running")
            return
        local = resolve_server(settings.local)
        kind = "embedded" if local.embedded else "external"
        print(f"{kind} server: {local.masked()}")
        print(f"state: running, PostgreSQL {local.major_version()}")
        if local.embedded:
            print(f"data: {settings.local.data_dir}")
