"""The running release's code: the base ref, checked out in a temporary git worktree.

During a deploy the release that is running keeps serving against the migrated
schema until the new one is up. Its code is the base ref (by default the merge-base
of HEAD with the repository's main branch); the boot check and the deploy-window
stage run the same commands from a checkout of it, with the same environment.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prodclone.errors import SettingsError

MAIN_BRANCHES = ("origin/HEAD", "main", "master")


@dataclass(frozen=True)
class BaseRef:
    """A resolved base ref, or `skipped` saying why there is none to run."""

    name: str = ""
    commit: str = ""
    toplevel: Path | None = None
    subdir: Path = Path()
    skipped: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.commit[:10]})"


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(cwd), *args], capture_output=True, text=True, check=False
    )


def _commit(cwd: Path, ref: str) -> str:
    done = _git(cwd, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    return done.stdout.strip() if done.returncode == 0 else ""


def resolve(project_dir: Path, base_ref: str) -> BaseRef:
    """Find the base ref's commit; a `base_ref` that names nothing is a settings error."""
    if shutil.which("git") is None:
        return BaseRef(skipped="git is not installed: no base ref to run the running release from")
    top = _git(project_dir, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        return BaseRef(skipped=f"{project_dir} is not in a git repository: no base ref to run")
    toplevel = Path(top.stdout.strip())
    subdir = project_dir.resolve().relative_to(toplevel.resolve())
    head = _commit(project_dir, "HEAD")
    if not head:
        return BaseRef(skipped="the repository has no commit yet: no base ref to run")
    if base_ref:
        commit = _commit(project_dir, base_ref)
        if not commit:
            raise SettingsError(
                f"prodclone.check.base_ref {base_ref!r} names no commit in {toplevel.name}: set "
                "it to the running release's branch, tag or commit (or leave it empty for the "
                "merge-base with the main branch); INVOKE_PRODCLONE_CHECK_BASE_REF"
            )
        name = base_ref
    else:
        branch = next((ref for ref in MAIN_BRANCHES if _commit(project_dir, ref)), "")
        if not branch:
            return BaseRef(
                skipped="no main branch (origin/HEAD, main or master) to take the running "
                "release from: set prodclone.check.base_ref"
            )
        merge_base = _git(project_dir, "merge-base", "HEAD", branch)
        if merge_base.returncode != 0:
            return BaseRef(skipped=f"HEAD and {branch} have no common ancestor: set check.base_ref")
        commit, name = merge_base.stdout.strip(), f"merge-base of HEAD and {branch}"
    if commit == head:
        return BaseRef(
            skipped=f"the base ref ({name}, {commit[:10]}) is HEAD itself: the running release "
            "is the code under test"
        )
    return BaseRef(name, commit, toplevel, subdir)


@contextmanager
def checkout(base: BaseRef) -> Iterator[Path]:
    """A detached worktree of the base commit; yields the project folder inside it.

    Always removed, whatever happens; the repository's own worktree is never touched.
    """
    assert base.toplevel is not None and base.commit
    parent = Path(tempfile.mkdtemp(prefix="prodclone-base-"))
    tree = parent / "tree"
    added = _git(base.toplevel, "worktree", "add", "--detach", "--quiet", str(tree), base.commit)
    try:
        if added.returncode != 0:
            reason = (added.stderr.strip().splitlines() or ["git worktree add failed"])[-1]
            raise SettingsError(f"cannot check out the base ref {base.label}: {reason}")
        yield tree / base.subdir
    finally:
        _git(base.toplevel, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(parent, ignore_errors=True)
        _git(base.toplevel, "worktree", "prune")
