"""Folders and files that hold production's personal data: private, and never committed.

Dumps, report folders (the app's log can quote production rows) and the
embedded server's data must not end up in a commit after a `git add -A`. Every
command that reads or writes them makes sure git ignores them, or says on
stderr that it could not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def make_private_dir(folder: Path, project_dir: Path, why: str, *, ours: bool = True) -> list[str]:
    """Create `folder` 0700 if needed and make sure git ignores it; returns what was done.

    `ours`: the folder is prodclone's by its settings, so an existing one is made
    0700 too; a folder the user named on the command line keeps its mode.
    """
    notices: list[str] = []
    if not folder.exists():
        notices.append(f"created {folder} (0700)")
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        ours = True
    if ours:
        os.chmod(folder, 0o700)
    return notices + keep_out_of_git(folder, project_dir, why)


def keep_out_of_git(path: Path, project_dir: Path, why: str) -> list[str]:
    """Make sure git ignores `path` (a folder, or a single file); returns what was done.

    The rule goes into the project's `.gitignore` when `path` lies in the
    project, else into a `.gitignore` beside it. When git still does not
    ignore it afterwards (a file already committed, a `.gitignore` that can't
    be written), one line on stderr says so.
    """
    path = path.resolve()
    is_dir = path.is_dir()
    probe = path / "prodclone-probe" if is_dir else path
    state = _ignored(probe)
    if state is None:
        return []  # not in a git work tree
    notices = []
    if state is False:
        notices = _add_rule(path, is_dir, project_dir.resolve(), why)
        if notices and _ignored(probe) is False:
            _warn(path, "a rule in .gitignore un-ignores it")
    if _tracked(path):
        # Ignore rules do not apply to what git tracks already: the next `git add -A`
        # would commit a changed copy.
        _warn(path, "git already tracks it", f"run git rm -r --cached {path} and commit")
    return notices


def _add_rule(path: Path, is_dir: bool, project: Path, why: str) -> list[str]:
    if project.is_relative_to(path):
        # Ignoring the whole project is never the answer: the user must pick a folder.
        _warn(path, "it is the project folder itself or holds it; choose a folder inside")
        return []
    if path.is_relative_to(project):
        gitignore = project / ".gitignore"
        entry = "/" + path.relative_to(project).as_posix() + ("/" if is_dir else "")
    elif is_dir:
        gitignore, entry = path / ".gitignore", "*"
    else:
        gitignore, entry = path.parent / ".gitignore", "/" + path.name
    try:
        existing = gitignore.read_text() if gitignore.exists() else ""
        separator = "" if not existing or existing.endswith("\n") else "\n"
        gitignore.write_text(f"{existing}{separator}# {why}\n{entry}\n")
    except OSError as exc:
        _warn(path, f"cannot write {gitignore}: {exc.strerror}")
        return []
    return [f"added {entry} to {_shown(gitignore, project)}: {why}"]


def _tracked(path: Path) -> bool:
    folder = path if path.is_dir() else path.parent
    done = subprocess.run(
        ["git", "ls-files", "--", str(path)],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return done.returncode == 0 and bool(done.stdout.strip())


def _ignored(probe: Path) -> bool | None:
    """Whether git ignores `probe`; None outside a git work tree (or without git)."""
    folder = probe.parent
    while not folder.is_dir():
        folder = folder.parent
    try:
        done = subprocess.run(
            ["git", "check-ignore", "-q", "--", str(probe)],
            cwd=folder,
            capture_output=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        if any((parent / ".git").exists() for parent in (folder, *folder.parents)):
            _warn(probe.parent, "git could not be run to check it is ignored")
        return None
    return {0: True, 1: False}.get(done.returncode)


def _shown(gitignore: Path, project: Path) -> str:
    return ".gitignore" if gitignore == project / ".gitignore" else str(gitignore)


def _warn(path: Path, reason: str, advice: str = "") -> None:
    advice = advice or "add it to .gitignore yourself and never commit it"
    print(
        f"prodclone: WARNING: git does not ignore {path}, which holds personal data "
        f"({reason}); {advice}",
        file=sys.stderr,
    )


DUMPS_WHY = "dumps hold personal data"
REPORTS_WHY = "reports can quote production rows (the app's log)"


def guard_dump(dump_dir: Path, project_dir: Path, dump: Path | None) -> list[str]:
    """Before a command reads a dump: its folder (or the file, outside it) kept out of git.

    A dump made by hand, the runbook's way without AWS, lands in the dump
    folder before any prodclone command has made that folder private.
    """
    folder = dump_dir.resolve()
    target = dump.resolve() if dump else folder
    if target.is_relative_to(folder):
        return make_private_dir(folder, project_dir, DUMPS_WHY) if folder.is_dir() else []
    return keep_out_of_git(target, project_dir, DUMPS_WHY) if target.exists() else []


def guard_reports(report_root: Path, project_dir: Path, report_dir: Path | None) -> list[str]:
    """Once a run has written reports: their folder (`--report`, or all of
    `check.report_dir`) private and kept out of git. A run that stopped before
    writing any leaves no folder, and nothing is done."""
    folder = report_dir or report_root
    if not folder.is_absolute():
        folder = project_dir / folder
    if not folder.is_dir():
        return []
    return make_private_dir(folder, project_dir, REPORTS_WHY, ours=not report_dir)
