"""db.schema-diff: the schema gate between the prod clone and a fresh build."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from invoke.context import Context
from invoke.exceptions import Exit

from prodclone.tasks._common import domain_errors, project_dir, settings_of
from prodclone.tasks.flags import task

if TYPE_CHECKING:
    from prodclone.settings import Settings

FORMATS = ("text", "json")
IGNORE_KEY = "prodclone.schema_diff.ignore"


@task(
    name="schema-diff",
    iterable=["ignore"],
    help={
        "a": "Database A: a name on the local server or a postgresql:// URL (the clone).",
        "b": "Database B: a name on the local server or a postgresql:// URL (the fresh build).",
        "clone": "Long form of -a.",
        "fresh": "Long form of -b.",
        "format": "Output format: text (default) or json.",
        "ignore": "Ignore rule kind:pattern[:attribute], role:pattern or rds; repeatable.",
        "owners": "Compare object owners too (ignored by default).",
        "output": "Write the report to this file; only the summary line goes to stdout.",
        "allow_version_mismatch": "Compare even when the servers' major versions differ.",
    },
)
def schema_diff(
    c: Context,
    a: str = "",
    b: str = "",
    clone: str = "",
    fresh: str = "",
    format: str = "text",
    ignore: list[str] | None = None,
    owners: bool = False,
    output: str = "",
    allow_version_mismatch: bool = False,
) -> None:
    """Compare two databases' schemas: exit 0 identical, 1 different, 2 could not compare."""
    from prodclone.errors import ProdcloneError
    from prodclone.schema import SchemaDiffError

    with domain_errors():
        try:
            code = _run(
                c,
                _target(_one_of("-a", "--clone", a, clone)),
                _target(_one_of("-b", "--fresh", b, fresh)),
                format,
                tuple(ignore or ()),
                owners,
                output,
                allow_version_mismatch,
            )
        except SchemaDiffError:
            raise
        except ProdcloneError as exc:
            raise SchemaDiffError(str(exc)) from None
        except Exception as exc:
            # Exit 1 means "differences found": no failure may end with it, or with 0.
            raise SchemaDiffError(f"could not compare: {_one_line(exc)}") from None
    if code:
        raise Exit(code=code)


def _one_of(short: str, long: str, short_value: str, long_value: str) -> str:
    """The database a flag and its long form name; both naming different ones is an error."""
    from prodclone.schema import SchemaDiffError

    if short_value and long_value and short_value != long_value:
        raise SchemaDiffError(
            # No values in the message: either may be a URL with a password.
            f"{short} and {long} name different databases; "
            f"{long} is the long form of {short}: give one of them"
        )
    return short_value or long_value


def _target(value: str) -> str:
    """A database name, or a URL in libpq's spelling (SQLAlchemy's `+driver` dropped)."""
    from prodclone.pg.conninfo import normalize

    return normalize(value)


def _is_url(target: str) -> bool:
    from prodclone.pg.conninfo import is_url

    return is_url(target)


def _run(
    c: Context,
    a: str,
    b: str,
    output_format: str,
    ignore: tuple[str, ...],
    owners: bool,
    output: str,
    allow_version_mismatch: bool,
) -> int:
    from prodclone.schema import (
        DiffOptions,
        SchemaDiffError,
        compare_databases,
        render_json,
        render_text,
    )
    from prodclone.schema.ignore import parse_rules
    from prodclone.settings.reader import env_var_for

    if not a or not b:
        raise SchemaDiffError(
            "name both databases: inv db.schema-diff -a <clone db or URL> -b <fresh db or URL>"
        )
    _check_url("-a", a)
    _check_url("-b", b)
    if output_format not in FORMATS:
        raise SchemaDiffError(f"--format must be text or json (got {output_format!r})")
    settings = settings_of(c)
    # Checked apart first, so a bad rule is blamed on the place it came from.
    parse_rules(settings.schema_diff.ignore, f"{IGNORE_KEY} ({env_var_for(IGNORE_KEY)})")
    parse_rules(ignore, "--ignore")
    urls, bin_dirs = _resolve(settings, a, b)
    options = DiffOptions(
        ignore=settings.schema_diff.ignore + ignore,
        owners=owners or settings.schema_diff.owners,
        allow_version_mismatch=allow_version_mismatch,
        extra_bin_dirs=bin_dirs,
    )
    with _status(f"comparing {_label(a)} with {_label(b)}"):
        result = compare_databases(urls[0], urls[1], options, labels=(_label(a), _label(b)))
    report = render_json(result) if output_format == "json" else render_text(result)
    if output:
        target = Path(output).expanduser()
        if not target.is_absolute():
            target = project_dir(c) / target
        try:
            target.write_text(report)
        except OSError as exc:
            raise SchemaDiffError(f"cannot write --output {target}: {exc.strerror}") from None
        print(result.summary())
        print(f"report: {target}")
    else:
        print(report, end="")
    return result.exit_code


def _one_line(exc: Exception) -> str:
    """An unexpected error as one line, any URL in it left out (it may hold a password)."""
    import re

    lines = str(exc).strip().splitlines()
    text = re.sub(r"postgres(?:ql)?://\S+", "<url>", lines[0] if lines else "")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _check_url(flag: str, target: str) -> None:
    """A malformed URL stops here with one line that does not echo it (it may hold a password)."""
    if not _is_url(target):
        return
    from urllib.parse import urlsplit

    from prodclone.errors import ProdcloneError
    from prodclone.pg.conninfo import parse, parse_problem
    from prodclone.schema import SchemaDiffError

    try:
        parse(target)  # libpq's reading; its message never quotes the URL
        _ = urlsplit(target).port  # raises on a port that is not a number
    except ProdcloneError as exc:
        problem = str(exc)
    except ValueError as exc:
        problem = f"not a valid postgresql:// URL ({parse_problem(exc)})"
    else:
        return
    raise SchemaDiffError(
        f"{flag} is {problem}; "
        "write postgresql://user@host:port/dbname, or just a database name on the local server"
    )


def _resolve(settings: Settings, a: str, b: str) -> tuple[tuple[str, str], tuple[Path, ...]]:
    """Both targets as URLs; the local server is started only if a name needs it."""
    from prodclone.local.embedded import bin_dir
    from prodclone.local.server import resolve_server

    if all(_is_url(target) for target in (a, b)):
        # No local server is needed, but the user's tools and the packaged ones still are.
        named = (settings.local.bin_dir,) if settings.local.bin_dir is not None else ()
        return (a, b), (*named, bin_dir())
    server = resolve_server(settings.local)
    urls = tuple(t if _is_url(t) else server.url(t) for t in (a, b))
    return (urls[0], urls[1]), server.extra_bin_dirs


@contextmanager
def _status(text: str) -> Iterator[None]:
    """A spinner on stderr while both sides are read, when someone is watching."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(text):
        yield


def _label(target: str) -> str:
    from prodclone.pg.conninfo import mask

    return mask(target) if _is_url(target) else target
