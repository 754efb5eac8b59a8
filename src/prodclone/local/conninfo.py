"""Connection strings: build per-database URLs, mask passwords, judge hosts."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit

from psycopg.conninfo import conninfo_to_dict


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
    return (
        f"postgresql://{quote(user, safe='')}@/{quote(dbname, safe='')}"
        f"?host={quote(socket_dir, safe='')}&port={port}"
    )


def mask(url: str) -> str:
    """The URL with any password replaced, safe to print.

    libpq also takes the password as a query parameter (`?password=...`).
    """
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "password" for key, _ in query):
        masked = [(key, "***" if key == "password" else value) for key, value in query]
        parts = parts._replace(query=urlencode(masked, safe="/*"))
    return _unsplit(parts)


def hosts(url: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """Every address the URL may reach: its hosts and `hostaddr`s, else PGHOST/PGHOSTADDR.

    `hostaddr` wins over `host` in libpq, and a URL without a host takes the env's.
    """
    env = os.environ if environ is None else environ
    params = conninfo_to_dict(url)
    found: list[str] = []
    for key, var in (("host", "PGHOST"), ("hostaddr", "PGHOSTADDR")):
        raw = str(params.get(key) or env.get(var) or "")
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
