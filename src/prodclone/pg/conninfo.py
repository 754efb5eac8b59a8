"""Connection strings: build per-database URLs, mask passwords, judge hosts."""

from __future__ import annotations

import configparser
import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import SplitResult, quote, unquote, urlsplit

from psycopg import ProgrammingError
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from prodclone.errors import ProdcloneError

# libpq's own schemes, and SQLAlchemy's spelling with a driver (`postgresql+psycopg://`).
_SCHEME = re.compile(r"^(?P<scheme>postgres(?:ql)?)(?P<driver>\+[A-Za-z0-9_]+)?://", re.ASCII)
_ANY_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_PASSWORD_PARAM = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)")
# What `mask` shows when it cannot tell where the password is: nothing of the text.
UNSHOWN = "<connection string not shown: it does not parse>"
# libpq's default folder for pg_service.conf in psycopg's build (Debian's convention).
DEFAULT_SYSCONF_DIRS = (Path("/etc/postgresql-common"),)


def is_url(text: str) -> bool:
    """A postgresql:// URL, with or without SQLAlchemy's `+driver`."""
    return bool(_SCHEME.match(text))


def normalize(url: str) -> str:
    """`postgresql+psycopg://...` (SQLAlchemy's form) as libpq's `postgresql://...`."""
    found = _SCHEME.match(url)
    if found and found.group("driver"):
        return "postgresql://" + url[found.end() :]
    return url


def parse(url: str) -> dict[str, str]:
    """The URL's parameters as libpq reads them; a bad URL raises a message without its text."""
    try:
        params = conninfo_to_dict(normalize(url))
    except ProgrammingError as exc:
        raise ProdcloneError(f"not a valid postgresql:// URL ({parse_problem(exc)})") from None
    found = {key: str(value) for key, value in params.items() if value is not None}
    # libpq checks ports only when it connects, and then quotes them; a password with
    # a `/` in it (so not read as one) may land there.
    if not all(port.strip().isdigit() for port in found.get("port", "0").split(",") if port):
        raise ProdcloneError("not a valid postgresql:// URL (its port is not a number)")
    return found


def parse_problem(exc: Exception) -> str:
    """libpq's complaint about a connection string, without the pieces it quotes from it.

    libpq quotes the offending token ("invalid percent-encoded token: "pa%zz..."),
    and the token may be a password.
    """
    first = (str(exc).strip().splitlines() or [""])[0]
    first = first.split(" in URI", 1)[0]
    first = re.sub(r""":?\s*("[^"]{2,}"|'[^']{2,}')""", "", first)
    return first.strip().rstrip(":") or type(exc).__name__


def url_for(base: str, dbname: str) -> str:
    """`base` (a postgresql:// URL) pointed at `dbname`, everything else kept."""
    parts = urlsplit(base)
    return _unsplit(parts._replace(path="/" + quote(dbname, safe="")))


def _unsplit(parts: SplitResult) -> str:
    """`geturl()`, keeping the `//` of a URL with no host (`postgresql:///db?host=/socket`).

    urllib drops it for schemes it does not know, and libpq then rejects the URL.
    """
    url = parts.geturl()
    if (
        not parts.netloc
        and url.startswith(f"{parts.scheme}:")
        and not url.startswith(f"{parts.scheme}://")
    ):
        url = f"{parts.scheme}://{url.removeprefix(parts.scheme + ':')}"
    return url


def socket_url(socket_dir: str, port: int, user: str, dbname: str) -> str:
    # The folder's slashes stay as they are (libpq reads them so): apps hand this URL to
    # parsers that treat `%` as their own syntax (Alembic's env.py puts it in configparser).
    return (
        f"postgresql://{quote(user, safe='')}@/{quote(dbname, safe='')}"
        f"?host={quote(socket_dir, safe='/')}&port={port}"
    )


def mask(url: str) -> str:
    """The connection string with any password replaced, safe to print; never raises.

    The password is found the way libpq finds it (the user info ends at the first
    `@` unless a `/` comes first; `?password=` in the query, its key percent-decoded),
    not the way a generic URL parser would: a `#` or `?` in a password must not
    leave its tail showing. Text libpq cannot parse is not shown at all.
    """
    try:
        return _mask(url)
    except Exception:
        return UNSHOWN


def _mask(url: str) -> str:
    head = _ANY_SCHEME.match(url)
    if head is None:
        # libpq's key=value form.
        params = conninfo_to_dict(url)
        if "password" in params:
            params["password"] = "***"
        return make_conninfo("", **params)
    if is_url(url):
        conninfo_to_dict(normalize(url))  # a parse error shows nothing of the text
    prefix, rest = url[: head.end()], url[head.end() :]
    userinfo = ""
    cut = re.search(r"[@/]", rest)
    if cut is not None and cut.group() == "@":
        user, colon, _ = rest[: cut.start()].partition(":")
        userinfo = f"{user}:***@" if colon else f"{user}@"
        rest = rest[cut.end() :]
    base, question, query = rest.partition("?")
    user, at, host = base.rpartition("@")
    if at and ":" in user:
        # libpq saw no user info (a `/` came first), but a reader would: hide it too.
        base = f"{user.split(':', 1)[0]}:***@{host}"
    if question:
        pieces = []
        for piece in query.split("&"):
            key, equals, _ = piece.partition("=")
            if unquote(key).strip() == "password":
                piece = f"{key}{equals}***"
            pieces.append(piece)
        query = "&".join(pieces)
    masked = prefix + userinfo + base + question + query
    if not is_url(url):
        # Some other scheme (a settings error quoting it): mask key=value pairs too.
        masked = _PASSWORD_PARAM.sub(r"\1***", masked)
    return masked


def service_hosts(
    service: str, environ: Mapping[str, str], sysconf_dirs: Iterable[Path] = ()
) -> list[tuple[str, str]]:
    """The host and hostaddr values of every definition of `service` libpq might use.

    libpq reads PGSERVICEFILE (else ~/.pg_service.conf), then pg_service.conf in
    PGSYSCONFDIR (else the folder its build names). Each libpq build has its own
    default folder, so every candidate is read: the loopback check must see any
    host the service may name.
    """
    user_file = environ.get("PGSERVICEFILE") or str(Path("~/.pg_service.conf").expanduser())
    sysconf = environ.get("PGSYSCONFDIR")
    dirs = [Path(sysconf)] if sysconf else [*DEFAULT_SYSCONF_DIRS, *sysconf_dirs]
    found: list[tuple[str, str]] = []
    for path in [Path(user_file), *(folder / "pg_service.conf" for folder in dirs)]:
        section = _service_section(path, service)
        if section is not None:
            found.append((section.get("host", ""), section.get("hostaddr", "")))
    return found


def _service_section(path: Path, service: str) -> dict[str, str] | None:
    parser = configparser.ConfigParser(
        interpolation=None, strict=False, delimiters=("=",), comment_prefixes=("#",)
    )
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error:
        raise ProdcloneError(
            f"cannot read the service file {path}: it is not in pg_service.conf's format"
        ) from None
    if not parser.has_section(service):
        return None
    return dict(parser.items(service))


def hosts(
    url: str, environ: Mapping[str, str] | None = None, sysconf_dirs: Iterable[Path] = ()
) -> list[str]:
    """Every address the URL may reach: its hosts and `hostaddr`s, else its service's, else
    PGHOST/PGHOSTADDR.

    libpq's order: the URL's own values, then the service definition (`service=` in the
    URL, else PGSERVICE) for what the URL leaves out, then the environment; `hostaddr`
    wins over `host`, so both count.
    """
    env = os.environ if environ is None else environ
    params = parse(url)
    service = params.get("service") or env.get("PGSERVICE", "")
    definitions = service_hosts(service, env, sysconf_dirs) if service else []
    found: list[str] = []
    for index, (key, var) in enumerate((("host", "PGHOST"), ("hostaddr", "PGHOSTADDR"))):
        candidates = [params.get(key, "")] if params.get(key) else []
        if not candidates:
            candidates = [entry[index] for entry in definitions if entry[index]]
        if not candidates:
            candidates = [env.get(var, "")]
        for raw in candidates:
            found.extend(host for host in raw.split(",") if host)
    return found or [""]


def is_local_host(host: str) -> bool:
    """Loopback, a Unix socket directory, or the libpq default (a socket)."""
    if host == "" or host.startswith("/") or host.startswith("@") or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
