"""Scan command output and the app's log for the error patterns the smoke stage fails on."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LINE = 300


@dataclass(frozen=True)
class LogMatch:
    source: str
    line_number: int
    line: str
    pattern: str

    def quote(self) -> str:
        return f"{self.source}:{self.line_number}: {self.line}  [matched /{self.pattern}/]"


def scan(text: str, patterns: tuple[str, ...], source: str) -> list[LogMatch]:
    """Every line of `text` that matches one of `patterns` (case-insensitive), first match."""
    compiled = [(pattern, re.compile(pattern, re.IGNORECASE)) for pattern in patterns]
    matches: list[LogMatch] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for pattern, regex in compiled:
            if regex.search(line):
                shown = line.strip()
                if len(shown) > MAX_LINE:
                    shown = shown[:MAX_LINE] + " ..."
                matches.append(LogMatch(source, number, shown, pattern))
                break
    return matches
