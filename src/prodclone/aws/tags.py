"""The tags that mark a cloud resource as ours, and the run id they carry.

Nothing without `prodclone:run` is ever modified or deleted.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from prodclone.errors import ProdcloneError

TAG_RUN = "prodclone:run"
TAG_CREATED_BY = "prodclone:created-by"
TAG_EXPIRES_AT = "prodclone:expires-at"
TAG_SOURCE = "prodclone:source"
TAG_KEEP = "prodclone:keep"
NAME_PREFIX = "prodclone-"


def new_run_id(now: datetime | None = None) -> str:
    """Sortable and unique: RDS identifiers allow lower-case letters, digits and hyphens."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


def resource_name(run: str) -> str:
    return f"{NAME_PREFIX}{run}"


def make_tags(
    run: str, created_by: str, source: str, expires_at: datetime, keep: bool = False
) -> list[dict[str, str]]:
    tags = {
        TAG_RUN: run,
        TAG_CREATED_BY: created_by or "unknown",
        TAG_SOURCE: source,
        TAG_EXPIRES_AT: format_time(expires_at),
    }
    if keep:
        tags[TAG_KEEP] = "true"
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def format_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expiry(minutes: float, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) + timedelta(minutes=minutes)


def as_dict(tag_list: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    return {str(tag["Key"]): str(tag["Value"]) for tag in tag_list or ()}


def is_ours(tags: Mapping[str, str], run: str | None = None) -> bool:
    value = tags.get(TAG_RUN)
    return bool(value) and (run is None or value == run)


def require_ours(kind: str, identifier: str, tags: Mapping[str, str], run: str | None) -> None:
    """The guard before any modify or delete."""
    if not identifier.startswith(NAME_PREFIX) or not is_ours(tags, run):
        wanted = f"{TAG_RUN}={run}" if run else TAG_RUN
        raise ProdcloneError(
            f"refusing to touch {kind} {identifier}: it does not carry the tag {wanted} "
            "that prodclone puts on what it creates"
        )


def parse_time(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
