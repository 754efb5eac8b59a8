"""What the comparison works on and what it produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

# An attribute value as read from the catalogs: text, numbers, flags or lists of text.
Value = str | int | float | bool | list[str] | None

Change = Literal["only in a", "only in b", "changed"]


def plain_name(name: str) -> str:
    """A quoted identity without its quotes (`public."Order"` -> `public.Order`).

    For matching where names come unquoted (pg_dump's entry headers, ignore
    patterns written by hand); never a key, since it may collide.
    """
    return name.replace('""', "\0").replace('"', "").replace("\0", '"')


class SchemaObject(NamedTuple):
    """One object: its attribute values in the order of `fields` (shared by its kind).

    A named tuple: tens of thousands are built per database, and it builds fastest.
    """

    kind: str
    name: str
    fields: tuple[str, ...]
    values: tuple[Value, ...]
    parent: str | None = None

    @property
    def attributes(self) -> dict[str, Value]:
        return dict(zip(self.fields, self.values, strict=True))

    def get(self, field_name: str) -> Value:
        return self.values[self.fields.index(field_name)] if field_name in self.fields else None


@dataclass
class Catalog:
    """One database's objects by kind, then by identity."""

    server_version: int
    objects: dict[str, dict[str, SchemaObject]] = field(default_factory=dict)

    def of_kind(self, kind: str) -> dict[str, SchemaObject]:
        return self.objects.get(kind, {})


@dataclass(frozen=True)
class Difference:
    """One way the two databases differ: an object on one side only, or one attribute.

    `hidden_by` names the ignore rule that hides it; hidden differences are
    counted, never shown as failures.
    """

    kind: str
    name: str
    change: Change
    attribute: str | None = None
    a: Value = None
    b: Value = None
    note: str | None = None
    hidden_by: str | None = None
    # For an object on one side only: the table (say) it belongs to, and what it is
    # apart from its name (an index's definition after its name, say), so that a
    # reader can tell a missed rename from drift. Not part of the JSON output.
    parent: str | None = None
    signature: str | None = None

    def sort_key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.name, self.change, self.attribute or "")
