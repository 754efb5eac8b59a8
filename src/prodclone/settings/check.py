"""`prodclone.check`: what `inv refactor-check` measures, expects and waits for."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from prodclone.settings.reader import Reader

MAX_PORT = 65535


@dataclass(frozen=True)
class CheckSettings:
    expected_data_changes: tuple[str, ...]
    fail_on_gained_rows: bool
    log_patterns: tuple[str, ...]
    exact_count_max_bytes: int
    sample_above_bytes: int
    lock_sample_seconds: float
    max_lock_seconds: float | None
    base_ref: str
    zero_downtime: bool
    slow_statement_seconds: float
    serve_ready_line: str
    serve_ready_port: int
    serve_timeout: float
    command_timeout: float | None
    report_dir: Path  # relative to the project folder unless absolute
    app_url: str
    ui_checklist: tuple[str, ...]


def _require_regex(reader: Reader, key: str, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise reader.error(key, f"holds an invalid regular expression {pattern!r}: {exc}") from None


def _patterns(reader: Reader, key: str) -> tuple[str, ...]:
    patterns = reader.text_list(key)
    for pattern in patterns:
        _require_regex(reader, key, pattern)
    return patterns


def parse_check(reader: Reader) -> CheckSettings:
    """`report_dir` stays as written; a relative one is taken from the project folder."""
    ready_line = reader.text("serve_ready_line")
    _require_regex(reader, "serve_ready_line", ready_line)
    ready_port = reader.whole("serve_ready_port", minimum=0)
    if ready_port > MAX_PORT:
        raise reader.error("serve_ready_port", f"must be a TCP port (1-{MAX_PORT}), or 0 for none")
    report_dir = Path(reader.text("report_dir", or_default=True)).expanduser()
    timeout = reader.number("command_timeout", minimum=0)
    return CheckSettings(
        expected_data_changes=reader.text_list("expected_data_changes"),
        fail_on_gained_rows=reader.flag("fail_on_gained_rows"),
        log_patterns=_patterns(reader, "log_patterns"),
        exact_count_max_bytes=reader.whole("exact_count_max_mb", minimum=0) * 1024 * 1024,
        sample_above_bytes=reader.whole("sample_above_mb", minimum=0) * 1024 * 1024,
        lock_sample_seconds=reader.number("lock_sample_seconds", minimum=0.01),
        max_lock_seconds=reader.maybe_number("max_lock_seconds", minimum=0),
        base_ref=reader.text("base_ref"),
        zero_downtime=reader.flag("zero_downtime"),
        slow_statement_seconds=reader.number("slow_statement_seconds", minimum=0),
        serve_ready_line=ready_line,
        serve_ready_port=ready_port,
        serve_timeout=reader.number("serve_timeout", minimum=1),
        command_timeout=timeout or None,
        report_dir=report_dir,
        app_url=reader.text("app_url"),
        ui_checklist=reader.text_list("ui_checklist"),
    )
