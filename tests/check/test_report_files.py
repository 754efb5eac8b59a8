"""The report folder and its files: private whatever the umask or the folder given."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.check.conftest import CheckProject


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_report_into_an_open_folder_writes_private_files_and_warns(checker: CheckProject) -> None:
    folder = checker.root / "ci-artifacts"
    folder.mkdir()
    folder.chmod(0o755)
    (folder / "report.md").write_text("an older report, readable by all\n")
    (folder / "report.md").chmod(0o644)
    checker.configure(commands={"migrate": "echo 'no such table: legal_entity'; exit 3"})
    old_umask = os.umask(0o022)  # the usual one: files 0644 unless made private on purpose
    try:
        result = checker.check(report=folder)
    finally:
        os.umask(old_umask)

    assert result.code == 1, result.output
    for name in ("report.md", "report.json", "junit.xml", "migrate.log"):
        assert mode(folder / name) == 0o600, name
    assert "refactor-check: FAILED at migrate" in result.markdown
    warning = (
        f"prodclone: WARNING: --report {folder} is open to other users (mode 0755); the "
        f"report files in it are 0600; run chmod 700 {folder} to make it private"
    )
    assert result.output.count(warning) == 1, result.output
    assert mode(folder) == 0o755  # the user's folder keeps its mode


def test_a_new_report_folder_is_private_and_needs_no_warning(checker: CheckProject) -> None:
    folder = checker.root / "new" / "report"
    checker.configure(commands={"migrate": "exit 3"})
    result = checker.check(report=folder)
    assert result.code == 1, result.output
    assert mode(folder) == 0o700
    assert mode(folder / "report.json") == 0o600
    assert "WARNING" not in result.output
