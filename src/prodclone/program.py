"""The `prodclone` program: Invoke's `Program` with prodclone's tasks built in.

`pipx install prodclone` then `prodclone db.load-clone` works in a folder with
no tasks.py. It reads the same configuration as `inv` with a project's
`from prodclone.tasks import ns`: `invoke.yaml` (found as `inv` finds tasks.py:
in the current folder or the nearest one above), the user and system files,
`-f FILE`, and the `INVOKE_...` env vars, prodclone's read by their declared
types (`prodclone.settings.config`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from invoke.exceptions import Exit, ParseError
from invoke.program import Program

from prodclone.errors import UsageError
from prodclone.settings.config import ProdcloneConfig

NAME = "prodclone"
# What marks a project folder, as tasks.py marks one for `inv`.
PROJECT_FILES = ("invoke.yaml", "invoke.yml", "invoke.json", "invoke.py", "tasks.py")


def package_version() -> str:
    try:
        return version(NAME)
    except PackageNotFoundError:
        return "unknown"


def project_folder(start: Path) -> Path:
    """The nearest folder, from `start` up, holding an Invoke config file or a tasks.py."""
    for folder in (start, *start.parents):
        if any((folder / name).is_file() for name in PROJECT_FILES):
            return folder
    return start


@contextmanager
def _parse_errors_are_usage() -> Iterator[None]:
    """A flag Invoke's parser cannot read (unknown, or left without its value) is a
    usage error: exit 2, as a bad flag value is (docs/commands.md). Invoke's own
    program exits 1 for it; under `inv` that stays so."""
    try:
        yield
    except ParseError as exc:
        raise Exit(str(exc), code=UsageError.exit_code) from None


class ProdcloneProgram(Program):
    def __init__(self, *args: Any, project: Path | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

    def print_version(self) -> None:
        print(f"{NAME} {self.version}")
        print(f"Invoke {version('invoke')}")

    def parse_core(self, argv: list[str] | None) -> None:
        with _parse_errors_are_usage():
            super().parse_core(argv)

    def parse_tasks(self) -> None:
        with _parse_errors_are_usage():
            super().parse_tasks()

    def parse_cleanup(self) -> None:
        with _parse_errors_are_usage():
            super().parse_cleanup()

    def parse_collection(self) -> None:
        super().parse_collection()
        # Invoke loads project config only next to a tasks.py it found itself; with
        # a built-in namespace the project is the folder the command runs in.
        project = self.project or project_folder(Path.cwd())
        self.config.set_project_location(str(project))
        self.config.load_project()


def make_program(project: Path | None = None) -> ProdcloneProgram:
    """The program; `project` fixes the project folder instead of looking from the cwd."""
    from prodclone.tasks import ns

    return ProdcloneProgram(
        project=project,
        name=NAME,
        binary=NAME,
        binary_names=[NAME],
        version=package_version(),
        namespace=ns,
        config_class=ProdcloneConfig,
    )


def run(argv: Sequence[str], project: Path | None = None) -> int:
    """Run the program with `argv` (without the program name) in this process: its exit code.

    `project`: the project folder (its invoke.yaml, where relative paths start);
    by default the one `prodclone` finds from the current folder.
    """
    try:
        make_program(project).run([NAME, *argv], exit=True)
    except SystemExit as exc:
        return exit_code(exc)
    return 0


def exit_code(done: SystemExit) -> int:
    """The exit code the interpreter gives for `done`; `sys.exit("text")` prints the text
    and means failure."""
    if done.code is None:
        return 0
    if isinstance(done.code, int):
        return done.code
    print(done.code, file=sys.stderr)
    return 1


def main() -> None:
    """The console script."""
    try:
        code = run(sys.argv[1:])
        sys.stdout.flush()
    except BrokenPipeError:
        # `prodclone --list | head -1`: the reader left early. Python's own flush at exit
        # would fail again on the same descriptor, so it is pointed at /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        code = 1
    sys.exit(code)
