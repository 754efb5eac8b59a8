"""What a kind of object is to the reader: a name and one catalog query."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Result columns whose name starts with this are bookkeeping, never compared.
META_PREFIX = "_"
# The parent object (a table for its columns, say), used to fold a missing
# table's columns into one line.
PARENT = "_parent"


@dataclass(frozen=True)
class Kind:
    """One object kind; `query(server_version_num)` returns one row per object.

    The first column, `name`, is the object's identity (schema-qualified name,
    plus its table or signature where the name alone is not unique); every
    other column is an attribute compared between the two databases.
    """

    name: str
    query: Callable[[int], str]


def fixed(sql: str) -> Callable[[int], str]:
    """A query that is the same on every supported server version."""
    return lambda _version: sql
