"""db.check-references: names in function bodies that the catalog no longer has."""

from __future__ import annotations

from invoke.context import Context
from invoke.exceptions import Exit

from prodclone.tasks._common import domain_errors, settings_of
from prodclone.tasks.db_schema import _check_url, _label, _one_line
from prodclone.tasks.flags import task

FORMATS = ("text", "json")


# The database is a flag, not a bare word: Invoke makes every positional argument
# required, and this one defaults to the clone.
@task(
    name="check-references",
    help={
        "db": "Database: a name on the local server or a postgresql:// URL (default: the clone).",
        "format": "Output format: text (default) or json.",
    },
)
def check_references(c: Context, db: str = "", format: str = "text") -> None:
    """Check function bodies against the catalog: exit 0 clean, 1 broken names, 2 no check."""
    from prodclone.errors import ProdcloneError
    from prodclone.references.errors import ReferenceCheckError

    with domain_errors():
        try:
            code = _run(c, db, format)
        except ReferenceCheckError:
            raise
        except ProdcloneError as exc:
            raise ReferenceCheckError(str(exc)) from None
        except Exception as exc:
            # Exit 1 means "broken references found": no failure may end with it, or with 0.
            raise ReferenceCheckError(f"could not check: {_one_line(exc)}") from None
    if code:
        raise Exit(code=code)


def _run(c: Context, db: str, output_format: str) -> int:
    import psycopg

    from prodclone.local.server import resolve_server
    from prodclone.pg.conninfo import is_url, normalize
    from prodclone.references import check_references as check
    from prodclone.references.errors import ReferenceCheckError
    from prodclone.references.render import render_json, render_text

    if output_format not in FORMATS:
        raise ReferenceCheckError(f"--format must be text or json (got {output_format!r})")
    settings = settings_of(c)
    target = db or settings.local.clone_db
    if is_url(target):
        _check_url("--db", target)
        try:
            conn = psycopg.connect(normalize(target), autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            reason = (str(exc).strip().splitlines() or ["no answer"])[0]
            raise ReferenceCheckError(f"cannot connect to {_label(target)}: {reason}") from None
    else:
        conn = resolve_server(settings.local).connect(target)
    with conn:
        report = check(conn, _label(target))
    print(render_json(report) if output_format == "json" else render_text(report), end="")
    return report.exit_code
