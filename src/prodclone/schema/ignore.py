"""Ignore rules: `kind:pattern[:attribute]`, plus `role:pattern` and the built-in `rds` set.

A rule hides matching differences; hidden differences are counted, never lost.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from prodclone.schema.errors import SchemaDiffError
from prodclone.schema.kinds import KINDS_BY_NAME
from prodclone.schema.model import Difference, Value, plain_name

DUMP_KIND = "pg_dump"
ROLE = "role"
RDS = "rds"
# What exists only on RDS: its admin roles and the extensions it installs.
RDS_RULES = (
    "role:rds*",
    "extension:aws_*",
    "extension:rds_*",
    "extension:apg_*",
    "extension:pg_stat_statements",
)
OWNERS_RULE = "owners (compare them with --owners)"
# Attributes that hold role names, which `role:` rules filter.
_ROLE_LISTS = ("privileges", "roles")


@dataclass(frozen=True)
class IgnoreRule:
    text: str
    kind: str
    pattern: str
    attribute: str | None = None

    def hides(self, difference: Difference) -> bool:
        if self.kind == ROLE:
            return _role_hides(self.pattern, difference)
        if self.kind not in ("*", difference.kind):
            return False
        # The name as printed (quoted where needed), or as written without quotes.
        if not any(
            fnmatch.fnmatchcase(name, self.pattern)
            for name in (difference.name, plain_name(difference.name))
        ):
            return False
        return self.attribute is None or fnmatch.fnmatchcase(
            difference.attribute or "", self.attribute
        )


def known_kinds() -> list[str]:
    return [*KINDS_BY_NAME, DUMP_KIND, ROLE, "*"]


def parse_rules(texts: Iterable[str], source: str) -> list[IgnoreRule]:
    """Rules from `--ignore` or config; `source` names where they came from in errors."""
    rules: list[IgnoreRule] = []
    for raw in texts:
        text = raw.strip()
        if text == RDS:
            rules.extend(parse_rules(RDS_RULES, "the rds rule set"))
            continue
        parts = text.split(":")
        if len(parts) not in (2, 3) or not all(part.strip() for part in parts):
            raise SchemaDiffError(
                f"ignore rule {text!r} in {source} is not kind:pattern[:attribute] "
                "(for example index:public.tmp_*, table:*:comment, role:rds*, or rds)"
            )
        kind = parts[0].strip().replace("-", " ").replace("_", " ").lower()
        kind = DUMP_KIND if kind == DUMP_KIND.replace("_", " ") else kind
        if kind not in known_kinds():
            raise SchemaDiffError(
                f"ignore rule {text!r} in {source} names an unknown kind {parts[0]!r}; "
                f"known kinds: {', '.join(known_kinds())}"
            )
        attribute = parts[2].strip() if len(parts) == 3 else None
        rules.append(IgnoreRule(text, kind, parts[1].strip(), attribute))
    return rules


def apply_rules(
    differences: list[Difference], rules: list[IgnoreRule], owners: bool
) -> list[Difference]:
    """The same differences, each hidden one marked with the rule that hides it."""
    marked: list[Difference] = []
    for difference in differences:
        rule = next((rule.text for rule in rules if rule.hides(difference)), None)
        if rule is None and not owners and difference.attribute == "owner":
            rule = OWNERS_RULE
        marked.append(replace(difference, hidden_by=rule) if rule else difference)
    return marked


def _role_hides(pattern: str, difference: Difference) -> bool:
    def matches(role: str) -> bool:
        return fnmatch.fnmatchcase(role, pattern)

    if difference.kind == "default privileges":
        return matches(difference.name.split(" in ", 1)[0])
    if difference.attribute == "owner":
        return any(isinstance(v, str) and matches(v) for v in (difference.a, difference.b))
    if difference.attribute in _ROLE_LISTS:
        return _without(difference.a, matches) == _without(difference.b, matches)
    return False


def _without(value: Value, matches: Callable[[str], bool]) -> list[str]:
    """`grantee:privilege` items (or role names) minus those of matching roles."""
    items = value if isinstance(value, list) else []
    return [item for item in items if not matches(item.split(":", 1)[0])]
