"""`prodclone.check`: what `inv refactor-check` measures and expects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prodclone.settings.reader import Reader

CHECK_DEFAULTS: dict[str, Any] = {
    "expected_data_changes": "",
    "log_patterns": "",
}


@dataclass(frozen=True)
class CheckSettings:
    expected_data_changes: tuple[str, ...]
    log_patterns: tuple[str, ...]


def parse_check(reader: Reader) -> CheckSettings:
    return CheckSettings(
        expected_data_changes=reader.text_list("expected_data_changes"),
        log_patterns=reader.text_list("log_patterns"),
    )
