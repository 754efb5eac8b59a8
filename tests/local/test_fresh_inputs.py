"""What decides whether a fresh build is reused, from the app's commands alone (in process)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from prodclone.local.commands import AppCommands
from prodclone.local.fresh import fresh_inputs


def commands(folder: Path) -> AppCommands:
    return AppCommands(
        folder,
        migrate="psql -f migrations/all.sql",
        fresh_inputs=("migrations/*.sql",),
        db_env={"APP_DB": "{db}"},
    )


def test_the_digest_follows_the_files_the_command_and_the_db_env(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    script = tmp_path / "migrations" / "all.sql"
    script.write_text("CREATE TABLE a (id int);\n")
    first = fresh_inputs(commands(tmp_path))
    assert first.reusable and first.files == 1 and first.unmatched == ()
    assert fresh_inputs(commands(tmp_path)).digest == first.digest

    script.write_text("CREATE TABLE a (id bigint);\n")
    edited = fresh_inputs(commands(tmp_path))
    assert edited.digest != first.digest
    other_command = fresh_inputs(replace(commands(tmp_path), migrate="psql -1 -f all.sql"))
    other_env = fresh_inputs(replace(commands(tmp_path), db_env={"APP_DB": "{url}"}))
    assert len({edited.digest, other_command.digest, other_env.digest}) == 3


def test_a_pattern_that_matches_nothing_is_never_reused(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "all.sql").write_text("SELECT 1;\n")
    typo = replace(commands(tmp_path), fresh_inputs=("migrations/*.sql", "migratons/*.py"))
    found = fresh_inputs(typo)
    assert found.unmatched == ("migratons/*.py",) and not found.reusable
    assert not fresh_inputs(replace(commands(tmp_path), fresh_inputs=())).reusable
