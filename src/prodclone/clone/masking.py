"""The masking step of `db.clone-prod`: on the throwaway instance, before pg_dump reads it.

The connection goes through the run's tunnel with the run's password in a
private pgpass file, as pg_dump's does. Unmasked data stays inside AWS: only
the masked instance is dumped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prodclone.aws.tunnels import LocalEnd
from prodclone.clone.dump import connect_throwaway, pgpass_file
from prodclone.clone.report import Report
from prodclone.mask import record, scan
from prodclone.mask.apply import mask_database
from prodclone.mask.policy import MaskPolicy
from prodclone.mask.rules import MaskRules


@dataclass(frozen=True)
class MaskResult:
    masked: bool
    rules_sha256: str = ""
    columns: list[str] = field(default_factory=list)


def mask_throwaway(
    masking: MaskPolicy,
    database: str,
    end: LocalEnd,
    user: str,
    password: str,
    report: Report,
    pgpass_parent: Path,
) -> MaskResult:
    """Warn about personal-looking columns without a rule; mask when rules say so."""
    rules = masking.rules
    if not rules:
        return MaskResult(masked=False)
    with (
        pgpass_file(pgpass_parent, end.host, end.port, database, user, password) as passfile,
        connect_throwaway(end, database, user, passfile, purpose=" to mask it") as conn,
    ):
        for line in scan.warning_lines(scan.without_rule(scan.scan(conn), rules)):
            report.line(line)
        if not masking.in_aws:
            report.line(
                "    masking is off on the instance (prodclone.mask.in_aws: false): "
                "this dump holds unmasked data"
            )
            return MaskResult(masked=False)
        report.step(f"mask {database} on the throwaway instance ({_count(rules)} rule(s))")
        outcome = mask_database(conn, rules, masking.secret, report.line)
        for line in outcome.lines()[len(outcome.tables) :]:
            report.line(line)
    return MaskResult(True, rules.digest, [r.key for r in rules.masked_columns])


def mask_plan_lines(masking: MaskPolicy) -> list[str]:
    """The plan's masking line: what happens on the instance before the dump."""
    rules = masking.rules
    if not rules:
        return ["  mask       none (no prodclone.mask.rules): the dump holds unmasked data"]
    if not masking.in_aws:
        return ["  mask       off on the instance (prodclone.mask.in_aws: false): unmasked dump"]
    lines = [
        f"  mask       {_count(rules)} rule(s) applied on the instance before pg_dump "
        f"(rules sha256 {rules.digest[:16]})"
    ]
    if not masking.secret:
        lines.append(
            "             no INVOKE_PRODCLONE_MASK_SECRET: masked values join within this "
            "dump but differ from other runs'"
        )
    return lines


def record_dump(dump: Path, result: MaskResult, rules: MaskRules) -> None:
    """Beside the finished dump: whether, and with which rules, it was masked."""
    if result.masked or rules:
        record.write_record(dump, result.masked, result.rules_sha256, result.columns)


def _count(rules: MaskRules) -> int:
    return len(rules.masked_columns) + len(rules.truncated)
