"""What a dump says about its masking: `<dump>.mask.json` beside it (0600).

A dump without one was made before masking existed, or by hand: unmasked.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SUFFIX = ".mask.json"


def record_path(dump: Path) -> Path:
    return dump.with_name(dump.name + SUFFIX)


def write_record(dump: Path, masked: bool, rules_sha256: str, columns: list[str]) -> Path:
    """Written beside the finished dump, 0600 like it (it names the dump's columns)."""
    path = record_path(dump)
    body = {
        "masked": masked,
        "rules_sha256": rules_sha256 if masked else "",
        "columns": columns if masked else [],
        "recorded_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    # Hidden, and not `.partial`: listings take `prod-*...partial` for an unfinished dump.
    partial = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(body, handle, indent=2)
        handle.write("\n")
    os.replace(partial, path)
    return path


def read_record(dump: Path) -> dict[str, Any]:
    """The dump's record; `{"masked": False}` when it has none or it cannot be read."""
    try:
        body = json.loads(record_path(dump).read_text())
    except (OSError, ValueError):
        return {"masked": False}
    return body if isinstance(body, dict) else {"masked": False}


def is_masked(dump: Path) -> bool:
    return read_record(dump).get("masked") is True
