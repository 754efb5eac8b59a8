"""PostgreSQL client tools (`pg_dump`, `pg_restore`, `psql`) chosen by major version.

A client older than the server it talks to refuses to work (pg_dump) or
misreads the catalogs, so each tool is picked among the embedded binaries,
`/usr/lib/postgresql/<N>/bin` and PATH: the newest one at least as new as
the server.
"""

from __future__ import annotations

import functools
import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from prodclone.errors import ProdcloneError

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class ClientTool:
    path: Path
    major: int
    minor: int

    def __str__(self) -> str:
        return str(self.path)

    def output(self, *args: str, failure: str) -> str:
        """Run the tool and return its stdout; on failure, `failure: <its last line>`."""
        result = subprocess.run(
            [str(self.path), *args], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            reason = (result.stderr.strip().splitlines() or ["no detail"])[-1]
            raise ProdcloneError(f"{failure}: {reason}")
        return result.stdout


@functools.cache
def _probe(path: str) -> ClientTool | None:
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except OSError:
        return None
    match = _VERSION.search(out)
    if not match:
        return None
    return ClientTool(Path(path), int(match.group(1)), int(match.group(2) or 0))


def _candidates(name: str, extra_dirs: tuple[Path, ...]) -> list[str]:
    found: list[str] = []
    for directory in extra_dirs:
        found.append(str(directory / name))
    found.extend(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True))
    on_path = shutil.which(name)
    if on_path:
        found.append(os.path.realpath(on_path))
    unique = dict.fromkeys(found)
    return [path for path in unique if os.access(path, os.X_OK)]


def find_tool(name: str, min_major: int, extra_dirs: tuple[Path, ...] = ()) -> ClientTool:
    """The newest `name` whose major version is at least `min_major`."""
    probed = [tool for path in _candidates(name, extra_dirs) if (tool := _probe(path))]
    fitting = [tool for tool in probed if tool.major >= min_major]
    if fitting:
        return max(fitting, key=lambda tool: (tool.major, tool.minor))
    seen = ", ".join(f"{t.path} ({t.major})" for t in probed) or "none"
    raise ProdcloneError(
        f"no {name} of PostgreSQL {min_major} or newer was found (seen: {seen}); "
        f"install postgresql-client-{min_major} or put one on PATH"
    )
