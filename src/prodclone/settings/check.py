"""`prodclone.check`: what `inv refactor-check` measures, expects and waits for."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodclone.settings.reader import Reader

# The errors the spec's ingestion step watches the logs for: queries against renamed
# columns or relations, decode errors, trigger payload key mismatches, foreign-key
# violations. Case-insensitive regular expressions.
DEFAULT_LOG_PATTERNS: tuple[str, ...] = (
    r"column .* does not exist",
    r"relation .* does not exist",
    r"function .* does not exist",
    r"type .* does not exist",
    r"record \"?new\"? has no field",
    r"record \"?old\"? has no field",
    r"violates foreign key constraint",
    r"decode error|could not decode|DecodeError|UnicodeDecodeError",
    r"invalid input (syntax|value) for",
    r"KeyError",
    r"payload .*(key|field).*(missing|mismatch|has no)",
    r"Traceback \(most recent call last\)",
)

# The spec's manual UI checklist; `{app}`, `{clone_db}` and `{url}` are filled in.
DEFAULT_UI_CHECKLIST: tuple[str, ...] = (
    "Start {app} against {clone_db} and open {url}",
    "The main list page loads and paginates",
    "Open a record: its view renders without errors",
    "Every admin page that shows a renamed table loads and shows its rows",
    "Browser devtools and the app log show no 500s",
)

MAX_PORT = 65535

CHECK_DEFAULTS: dict[str, Any] = {
    # Tables whose row count the migration is meant to change (old or new name).
    "expected_data_changes": "",
    # Rows a table gained are listed; they fail the data check only when this is on.
    "fail_on_gained_rows": False,
    # Lists are JSON text by default so that an env var can replace them.
    "log_patterns": json.dumps(list(DEFAULT_LOG_PATTERNS)),
    # Above this, a table's row count is estimated (one scan per pass saved).
    "exact_count_max_mb": 64,
    # Above this, a table's columns are fingerprinted on primary-key ranges, not whole.
    "sample_above_mb": 64,
    "lock_sample_seconds": 0.1,
    # Unset: locks are reported only; set: a longer ACCESS EXCLUSIVE fails the check.
    "max_lock_seconds": "",
    # The running release's code: empty means the merge-base of HEAD with the main branch.
    "base_ref": "",
    # When on, the running release breaking on the migrated schema fails the check.
    "zero_downtime": False,
    "slow_statement_seconds": 1.0,
    "serve_ready_line": "",
    "serve_ready_port": 0,
    "serve_timeout": 60,
    # Boot and smoke commands only: a migration on production-sized data takes what it takes.
    "command_timeout": 600,
    "report_dir": "reports",
    "app_url": "",
    "ui_checklist": json.dumps(list(DEFAULT_UI_CHECKLIST)),
}


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


def _list_or_default(reader: Reader, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """An absent key means the defaults; an empty one (`[]` or "") means none."""
    return default if reader.raw(key) is None else reader.text_list(key)


def _require_regex(reader: Reader, key: str, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise reader.error(key, f"holds an invalid regular expression {pattern!r}: {exc}") from None


def _patterns(reader: Reader, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    patterns = _list_or_default(reader, key, default)
    for pattern in patterns:
        _require_regex(reader, key, pattern)
    return patterns


def parse_check(reader: Reader) -> CheckSettings:
    """`report_dir` stays as written; a relative one is taken from the project folder."""
    ready_line = reader.text("serve_ready_line")
    _require_regex(reader, "serve_ready_line", ready_line)
    ready_port = reader.whole("serve_ready_port", 0, minimum=0)
    if ready_port > MAX_PORT:
        raise reader.error("serve_ready_port", f"must be a TCP port (1-{MAX_PORT}), or 0 for none")
    report_dir = Path(reader.text("report_dir") or "reports").expanduser()
    timeout = reader.number("command_timeout", 600, minimum=0)
    return CheckSettings(
        expected_data_changes=reader.text_list("expected_data_changes"),
        fail_on_gained_rows=reader.flag("fail_on_gained_rows"),
        log_patterns=_patterns(reader, "log_patterns", DEFAULT_LOG_PATTERNS),
        exact_count_max_bytes=reader.whole("exact_count_max_mb", 64, minimum=0) * 1024 * 1024,
        sample_above_bytes=reader.whole("sample_above_mb", 64, minimum=0) * 1024 * 1024,
        lock_sample_seconds=reader.number("lock_sample_seconds", 0.1, minimum=0.01),
        max_lock_seconds=(
            reader.number("max_lock_seconds", 0, minimum=0)
            if reader.raw("max_lock_seconds") not in (None, "")
            else None
        ),
        base_ref=reader.text("base_ref"),
        zero_downtime=reader.flag("zero_downtime"),
        slow_statement_seconds=reader.number("slow_statement_seconds", 1.0, minimum=0),
        serve_ready_line=ready_line,
        serve_ready_port=ready_port,
        serve_timeout=reader.number("serve_timeout", 60, minimum=1),
        command_timeout=timeout or None,
        report_dir=report_dir,
        app_url=reader.text("app_url"),
        ui_checklist=_list_or_default(reader, "ui_checklist", DEFAULT_UI_CHECKLIST),
    )
