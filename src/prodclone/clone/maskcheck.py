"""`db.clone-prod`'s first check of the masking rules: against the newest local dump,
before any AWS call.

Production's own schema can only be read once the throwaway instance is up
(production itself gets Describe calls only). A misspelt key would then cost a
snapshot and an instance before it is found, so the rules are first checked
against the newest dump of this project, which is production's schema as of
that dump. A table or column production gained (or a type it changed) since
is not in it: the user says so with --skip-dump-check, and the check on the
instance (which always runs, before anything is masked or dumped) is the one
that counts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prodclone.errors import ProdcloneError
from prodclone.local.masking import read_dump_tables
from prodclone.mask.dumpcheck import check_rules_in_dump
from prodclone.mask.rules import MaskRules
from prodclone.pg import dumps
from prodclone.pg.tools import ClientTool

SKIP_FLAG = "--skip-dump-check"
_LABEL = "  mask       "


def check_rules_on_newest_dump(rules: MaskRules, in_aws: bool, dump_dir: Path, skip: bool) -> str:
    """Refuse, in one line, a rule naming what the newest local dump lacks; otherwise the
    plan's line saying what was checked ("" when the rules are not applied on the instance)."""
    if not rules or not in_aws:
        return ""
    if skip:
        return (
            f"{_LABEL}rules not checked against a local dump ({SKIP_FLAG}): "
            "the instance checks them"
        )
    newest = _newest(dump_dir)
    if newest is None:
        return f"{_LABEL}no local dump to check the rules against yet: the instance checks them"
    of = f"{newest.name} of {_day(newest)}"
    try:
        tables = read_dump_tables(newest, _pg_restore())
    except ProdcloneError as exc:
        # An early courtesy only: the instance's check still stops a bad rule.
        return f"{_LABEL}rules not checked against {of} ({exc}): the instance checks them"
    check_rules_in_dump(
        rules,
        tables,
        f"the newest local dump ({of})",
        way_out=(
            f"; if production changed after that dump, run again with {SKIP_FLAG} "
            "and the throwaway instance checks the rules"
        ),
    )
    return f"{_LABEL}rules checked against the newest local dump ({of}): they fit"


def _newest(dump_dir: Path) -> Path | None:
    try:
        return dumps.newest_dump(dump_dir)
    except ProdcloneError:  # none yet
        return None


def _day(dump: Path) -> str:
    return datetime.fromtimestamp(dump.stat().st_mtime, UTC).strftime("%Y-%m-%d")


def _pg_restore() -> ClientTool:
    """The newest pg_restore: it reads the archives of every older one."""
    from prodclone.local.embedded import bin_dir
    from prodclone.pg.tools import find_tool

    return find_tool("pg_restore", 0, (bin_dir(),))
