"""What the reference check reports: findings, warnings and what it could not check."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    """A name in a function body that the current catalog does not have."""

    oid: int
    function: str  # schema.name(argument types)
    line: int  # in the body, 1 = the line after the opening quote
    missing: str  # the name PostgreSQL could not find
    message: str  # PostgreSQL's own words
    code: str  # its SQLSTATE
    context: str = ""  # e.g. "trigger documents_status_event on public.documents"
    renamed_to: str = ""  # filled in when this migration renamed `missing`

    @property
    def key(self) -> tuple[int, str, str]:
        """What identifies the same breakage before and after a migration."""
        return (self.oid, self.code, self.missing)

    def text(self) -> str:
        where = f" ({self.context})" if self.context else ""
        line = f"{self.function} line {self.line}: {self.message}{where}"
        if self.renamed_to:
            line += f"; `{self.missing.rsplit('.', 1)[-1]}` {self.renamed_to}"
        return line


@dataclass(frozen=True)
class Skipped:
    """A statement (or a whole function) the check could not resolve statically."""

    function: str
    line: int
    reason: str

    def text(self) -> str:
        return f"{self.function} line {self.line}: {self.reason}"


@dataclass(frozen=True)
class RenamedLiteral:
    """A string literal equal to a name this migration renamed (a payload key, say)."""

    function: str
    line: int
    literal: str
    renamed_to: str

    def text(self) -> str:
        return (
            f"{self.function} line {self.line}: string '{self.literal}' names what this "
            f"migration renamed to `{self.renamed_to}` (a payload key its readers expect?)"
        )


@dataclass
class ReferenceReport:
    database: str
    functions: int = 0
    plpgsql: int = 0
    sql: int = 0
    statements: int = 0
    findings: list[Finding] = field(default_factory=list)
    not_checked: list[Skipped] = field(default_factory=list)
    warnings: list[RenamedLiteral] = field(default_factory=list)
    # Findings the pre-migration database had too: production's own, older breakage.
    preexisting: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return 1 if self.findings else 0

    def summary(self) -> str:
        parts = [
            f"{self.functions} function(s) checked ({self.plpgsql} PL/pgSQL, {self.sql} SQL, "
            f"{self.statements} statement(s) and expression(s))",
            f"{len(self.findings)} broken reference(s)",
        ]
        if self.preexisting:
            parts.append(f"{len(self.preexisting)} older one(s) production already had")
        if self.warnings:
            parts.append(f"{len(self.warnings)} warning(s)")
        parts.append(f"{len(self.not_checked)} not checked")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "summary": self.summary(),
            "functions": self.functions,
            "plpgsql": self.plpgsql,
            "sql": self.sql,
            "statements": self.statements,
            "seconds": round(self.seconds, 3),
            "findings": [asdict(item) for item in self.findings],
            "preexisting": [asdict(item) for item in self.preexisting],
            "warnings": [asdict(item) for item in self.warnings],
            "not_checked": [asdict(item) for item in self.not_checked],
        }
