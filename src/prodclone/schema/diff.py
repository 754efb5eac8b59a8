"""Compare two catalogs object by object and attribute by attribute."""

from __future__ import annotations

from collections.abc import Iterator

from prodclone.schema.expressions import same_sql
from prodclone.schema.model import Catalog, Change, Difference, SchemaObject, Value

COLUMN = "column"
POSITION = "position"
# Attributes that hold SQL (definitions, expressions) rather than names or settings.
SQL_ATTRIBUTES = frozenset({"definition", "predicate", "default", "using", "with_check"})
# A domain's constraints: `name: definition` items.
DOMAIN_CONSTRAINTS = "constraints"


def compare_and_fold(
    a: Catalog, b: Catalog, kinds: list[str]
) -> tuple[list[Difference], list[Difference]]:
    """Every difference, objects matched by kind and identity (never by OID).

    Objects whose parent (a table, say) is itself on one side only are folded
    into that parent's line, so a leftover table is one difference, not fifty:
    returns the differences to report, and apart from them the folded ones.
    """
    found: list[Difference] = []
    missing_parents: dict[Change, set[str]] = {"only in a": set(), "only in b": set()}
    for kind in kinds:
        for difference in _compare_kind(kind, a.of_kind(kind), b.of_kind(kind)):
            if difference.change != "changed":
                missing_parents[difference.change].add(difference.name)
            found.append(difference)
    shown: list[Difference] = []
    folded: list[Difference] = []
    for difference in found:
        (folded if _folded(difference, a, b, missing_parents) else shown).append(difference)
    return shown, folded


def _compare_kind(
    kind: str, a: dict[str, SchemaObject], b: dict[str, SchemaObject]
) -> Iterator[Difference]:
    only_a, only_b = a.keys() - b.keys(), b.keys() - a.keys()
    for name in only_a:
        yield Difference(
            kind, name, "only in a", parent=a[name].parent, signature=_signature(a[name])
        )
    for name in only_b:
        yield Difference(
            kind, name, "only in b", parent=b[name].parent, signature=_signature(b[name])
        )
    changed = [
        name
        for name, obj in a.items()
        if (other := b.get(name)) is not None and other.values != obj.values
    ]
    ranks: dict[str, tuple[int, int]] = {}
    if kind == COLUMN:
        # A column keeps its attribute number but changes rank when another moves,
        # or when a column before it exists on one side only.
        parents = {a[name].parent for name in (*changed, *only_a)}
        parents |= {b[name].parent for name in only_b}
        ranks = _column_ranks(a, b, parents)
        listed = set(changed)
        changed += [name for name, (x, y) in ranks.items() if x != y and name not in listed]
    for name in changed:
        left, right = a[name].attributes, b[name].attributes
        for attribute in left.keys() | right.keys():
            if attribute == POSITION and ranks:
                # Reported as ranks from 1: attribute numbers count dropped columns too.
                rank_a, rank_b = ranks[name]
                if rank_a != rank_b:
                    yield Difference(kind, name, "changed", attribute, rank_a + 1, rank_b + 1)
            elif left.get(attribute) != right.get(attribute) and not _same_text(
                attribute, left.get(attribute), right.get(attribute)
            ):
                yield Difference(
                    kind, name, "changed", attribute, left.get(attribute), right.get(attribute)
                )


def _same_text(attribute: str, a: Value, b: Value) -> bool:
    """SQL texts that differ only where a dump and restore rewrites them."""
    if attribute == DOMAIN_CONSTRAINTS and isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same_named_sql, a, b))
    return (
        attribute in SQL_ATTRIBUTES and isinstance(a, str) and isinstance(b, str) and same_sql(a, b)
    )


def _same_named_sql(a: str, b: str) -> bool:
    """`name: CHECK (...)` items: the same name, and the same SQL."""
    name_a, _, sql_a = a.partition(": ")
    name_b, _, sql_b = b.partition(": ")
    return a == b or (name_a == name_b and same_sql(sql_a, sql_b))


def _signature(obj: SchemaObject) -> str | None:
    """What an object is apart from its name, for the kinds a rename is often missed on."""
    if obj.kind == "index":
        definition = obj.get("definition")
        # `CREATE [UNIQUE] INDEX <name> ON <table> USING ...`: the part after the name.
        return definition.split(" ON ", 1)[-1] if isinstance(definition, str) else None
    if obj.kind == "constraint":
        definition = obj.get("definition")
        return definition if isinstance(definition, str) else None
    if obj.kind == COLUMN:
        column_type = obj.get("type")
        return column_type if isinstance(column_type, str) else None
    return None


def _column_ranks(
    a: dict[str, SchemaObject], b: dict[str, SchemaObject], parents: set[str | None]
) -> dict[str, tuple[int, int]]:
    """Each shared column's rank among the shared columns of its table, on both sides.

    A column only one side has is reported once; it does not also move every
    column after it.
    """
    if not parents:
        return {}
    shared = {name for name in a.keys() & b.keys() if a[name].parent in parents}
    ranks: dict[str, list[int]] = {name: [] for name in shared}
    for side in (a, b):
        by_parent: dict[str | None, list[tuple[int, str]]] = {}
        for name in shared:
            obj = side[name]
            position = obj.get(POSITION)
            by_parent.setdefault(obj.parent, []).append(
                (position if isinstance(position, int) else 0, name)
            )
        for members in by_parent.values():
            for rank, (_position, name) in enumerate(sorted(members)):
                ranks[name].append(rank)
    return {name: (pair[0], pair[1]) for name, pair in ranks.items()}


def _folded(
    difference: Difference, a: Catalog, b: Catalog, missing_parents: dict[Change, set[str]]
) -> bool:
    if difference.change == "changed":
        return False
    side = a if difference.change == "only in a" else b
    obj = side.of_kind(difference.kind).get(difference.name)
    return bool(obj and obj.parent and obj.parent in missing_parents[difference.change])
