"""A test project that runs this repository's tasks.py: prodclone's tasks plus the demo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import Project

REPO = Path(__file__).resolve().parent.parent


def use_repo_tasks(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The project's tasks.py becomes this repository's, which adds the `demo` task.

    The demo package sits beside tasks.py in the repository, not in the project, so
    the project's `inv` finds it through PYTHONPATH.
    """
    (project.root / "tasks.py").write_text((REPO / "tasks.py").read_text())
    paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    return project
