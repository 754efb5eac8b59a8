"""db.scan-pii: columns that look personal, as a ready `mask:` block for invoke.yaml."""

from __future__ import annotations

from invoke.context import Context

from prodclone.tasks._common import domain_errors, refuse_dry, settings_of
from prodclone.tasks.flags import task


@task(
    help={
        "db": "Database on the local server to scan (default the clone, local.clone_db).",
        "all": "List every column that looks personal, also those that already have a rule.",
    }
)
def scan_pii(c: Context, db: str = "", all: bool = False) -> None:
    """Print columns that look personal (by name or sampled content) as a `mask:` block."""
    with domain_errors():
        from prodclone.errors import ProdcloneError
        from prodclone.local.server import resolve_server
        from prodclone.mask import scan
        from prodclone.pg import databases

        refuse_dry(c, "db.scan-pii")  # it starts the embedded server
        settings = settings_of(c)
        server = resolve_server(settings.local)
        name = db or settings.local.clone_db
        with server.connect() as conn:
            if databases.find(conn, name) is None:
                raise ProdcloneError(
                    f"no database {name!r} on the local server; load one with "
                    "`inv db.load-clone` or name it: inv db.scan-pii --db NAME"
                )
        with server.connect(name) as conn:
            found = scan.scan(conn)
        shown = found if all else scan.without_rule(found, settings.mask.rules)
        print(f"# {len(shown)} column(s) in {name} look personal and have no rule; paste under")
        print("# prodclone: in invoke.yaml and check each strategy (docs/masking.md)")
        for line in scan.yaml_block(shown):
            print(line)
