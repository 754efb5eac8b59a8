"""`prodclone.mask`: which columns are masked, how, and where.

The rules' shape and strategies are checked here, when any task starts: a
mistake is one line before anything is created. Whether the columns exist is
checked against the database about to be masked, before it is changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prodclone.errors import SettingsError
from prodclone.mask.rules import MaskRules, parse_rules
from prodclone.settings.reader import Reader, env_var_for

SECRET_KEY = "prodclone.mask.secret"


@dataclass(frozen=True)
class MaskSettings:
    rules: MaskRules
    secret: str = field(default="", repr=False)  # only ever from the environment
    in_aws: bool = False


def refuse_secret_in_file(raw: Mapping[str, Any] | None) -> None:
    """The secret makes masked values reversible by guessing: it never sits in a file."""
    block = raw.get("mask") if isinstance(raw, Mapping) else None
    if isinstance(block, Mapping) and block.get("secret") not in (None, ""):
        raise SettingsError(
            f"{SECRET_KEY} must not be written in a file (invoke.yaml): remove it there "
            f"and set it only with {env_var_for(SECRET_KEY)}"
        )


def parse_mask(reader: Reader) -> MaskSettings:
    rules = reader.raw("rules")
    if isinstance(rules, str):
        import json

        text = rules.strip()
        try:
            rules = json.loads(text) if text else {}
        except json.JSONDecodeError:
            raise reader.error("rules", "must be a JSON object of column to rule") from None
    if rules is None:
        rules = {}
    if not isinstance(rules, Mapping):
        raise reader.error("rules", f"must be a mapping of column to rule (got {rules!r})")
    return MaskSettings(
        rules=parse_rules(rules),
        secret=reader.text("secret"),
        in_aws=reader.flag("in_aws", derived=bool(rules)),
    )
