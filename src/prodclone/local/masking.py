"""`db.load-clone --mask`: the same rules, applied to a restored older dump before it
becomes the template, so that every later reset copies masked data."""

from __future__ import annotations

from pathlib import Path

from prodclone.local.roles import without_meta_commands
from prodclone.local.server import LocalServer
from prodclone.mask import record
from prodclone.mask.apply import mask_database
from prodclone.mask.dumpcheck import check_rules_in_dump
from prodclone.mask.dumpschema import DumpTables, tables_in_script
from prodclone.mask.policy import MaskPolicy
from prodclone.mask.rules import MaskRules
from prodclone.pg.tools import ClientTool

_TAG = "masked="


def template_tag(rules: MaskRules) -> str:
    """Written into the template's mark: which rules it was masked with."""
    return f"{_TAG}{rules.digest[:16]}"


def template_masked(comment: str, rules: MaskRules) -> bool:
    return bool(rules) and template_tag(rules) in comment.split()


def read_dump_tables(dump: Path, pg_restore: ClientTool) -> DumpTables:
    """The tables and columns `dump` holds, from its schema script."""
    script = pg_restore.output(
        "--schema-only", "-f", "-", str(dump), failure=f"cannot read the schema of {dump}"
    )
    return tables_in_script(without_meta_commands(script))


def check_rules_against_dump(rules: MaskRules, dump: Path, pg_restore: ClientTool) -> None:
    """Every rule's table and column is in the dump, and fits, before any database is created
    for it: a misspelt key is one line, not a restore that is thrown away."""
    check_rules_in_dump(rules, read_dump_tables(dump, pg_restore), dump.name)


def mask_restored(masking: MaskPolicy, server: LocalServer, dbname: str) -> None:
    digest = masking.rules.digest[:16]
    print(f"masking {dbname} with prodclone.mask.rules (rules sha256 {digest})")
    if not masking.secret:
        print(
            "    no INVOKE_PRODCLONE_MASK_SECRET: masked values join within this clone "
            "but differ from other runs'"
        )
    with server.connect(dbname, autocommit=False) as conn:
        outcome = mask_database(conn, masking.rules, masking.secret, print)
    for line in outcome.lines()[len(outcome.tables) :]:
        print(line)


def unmasked_warning(rules: MaskRules, dump: Path, masked_here: bool) -> str:
    """One line when rules exist but neither the dump nor the template was masked (or the
    dump was masked with other rules than today's)."""
    if not rules or masked_here:
        return ""
    found = record.read_record(dump)
    if found.get("masked") is True:
        if found.get("rules_sha256") in ("", None, rules.digest):
            return ""
        return (
            f"warning: {dump.name} was masked with other rules than prodclone.mask.rules "
            "now (a column added since may be unmasked); load it with `inv db.load-clone --mask`"
        )
    return (
        f"warning: {dump.name} is not masked, but prodclone.mask.rules exist: the clone holds "
        "its personal data as it is; load it with `inv db.load-clone --mask`"
    )
