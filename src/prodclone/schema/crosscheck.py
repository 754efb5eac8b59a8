"""Which `pg_dump -s` differences the catalog comparison did not already explain."""

from __future__ import annotations

import re
from collections.abc import Iterable

from prodclone.schema.dumptext import DumpEntry, EntryKey
from prodclone.schema.expressions import same_sql
from prodclone.schema.ignore import DUMP_KIND
from prodclone.schema.kinds.fallback import OTHER_OBJECTS
from prodclone.schema.model import Change, Difference, plain_name

_TOKEN = re.compile(r"[ .(),]+")
_SEPARATOR = re.compile(r"[.(]")
_DEFAULT_ACL = "DEFAULT ACL"
_PUBLICATION = "PUBLICATION"


def dump_differences(
    a: dict[EntryKey, DumpEntry], b: dict[EntryKey, DumpEntry], known: list[Difference]
) -> list[Difference]:
    """Dump entries that differ and name no object the catalog comparison reported.

    `known` includes hidden differences: what an ignore rule hides in the
    catalog it also hides in the text.
    """
    # pg_dump's headers name objects without quotes.
    names = _name_prefixes(
        plain_name(d.name.rsplit(" (", 1)[0] if d.kind == OTHER_OBJECTS.name else d.name)
        for d in known
    )
    has_default_privileges = any(d.kind == "default privileges" for d in known)
    found: list[Difference] = []
    for key in sorted(a.keys() | b.keys()):
        left, right = a.get(key), b.get(key)
        if (
            left is not None
            and right is not None
            and (left.text == right.text or same_sql(left.text, right.text))
        ):
            continue
        entry = left or right
        assert entry is not None
        if entry.type == _DEFAULT_ACL and has_default_privileges:
            continue
        if _explained(entry, names):
            continue
        change: Change = "changed" if left and right else "only in a" if left else "only in b"
        found.append(
            Difference(
                DUMP_KIND,
                entry.label(),
                change,
                "definition",
                left.text if left else None,
                right.text if right else None,
                note="seen only by the pg_dump -s cross-check",
            )
        )
    return found


def _name_prefixes(names: Iterable[str]) -> set[str]:
    """Each name and each of its leading parts (`s.t` of `s.t.c`, `s.f` of `s.f(int)`)."""
    prefixes: set[str] = set()
    for name in names:
        prefixes.add(name)
        for match in _SEPARATOR.finditer(name):
            prefixes.add(name[: match.start()])
    return prefixes


def _explained(entry: DumpEntry, names: set[str]) -> bool:
    prefix = "" if entry.schema == "-" else f"{entry.schema}."
    tokens = [token.strip('"') for token in _TOKEN.split(entry.name) if token]
    # `PUBLICATION TABLE` entries are named `<publication> <table>` in the table's
    # schema; publications themselves have no schema.
    if entry.type.startswith(_PUBLICATION) and tokens and tokens[0] in names:
        return True
    return any(prefix + token in names for token in tokens)
