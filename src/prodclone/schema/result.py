"""Options in, result out: what callers of the comparison work with."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from prodclone.schema.model import Difference


@dataclass(frozen=True)
class DiffOptions:
    """How to compare.

    `ignore` holds rule texts (`kind:pattern[:attribute]`, `role:pattern`, `rds`);
    owners are compared only when `owners` is true; `extra_bin_dirs` are searched
    first for pg_dump (the packaged PostgreSQL binaries are always searched too).
    """

    ignore: tuple[str, ...] = ()
    owners: bool = False
    allow_version_mismatch: bool = False
    cross_check: bool = True
    extra_bin_dirs: tuple[Path, ...] = ()


@dataclass(frozen=True)
class KindCount:
    a: int
    b: int


@dataclass
class DiffResult:
    """The verdict: `exit_code` 0 when nothing visible differs, 1 otherwise."""

    a_label: str
    b_label: str
    server_version: int
    differences: list[Difference]
    hidden: list[Difference]
    coverage: dict[str, KindCount] = field(default_factory=dict)
    not_modelled: list[str] = field(default_factory=list)
    cross_checked: bool = True

    @property
    def hidden_count(self) -> int:
        return len(self.hidden)

    @property
    def exit_code(self) -> int:
        return 1 if self.differences else 0

    def objects_compared(self) -> int:
        return sum(max(count.a, count.b) for count in self.coverage.values())

    def counts_by_kind(self) -> dict[str, int]:
        """Differences (an object on one side only, or one of its attributes) by kind."""
        return dict(Counter(d.kind for d in self.differences))

    def differing_objects(self) -> list[tuple[str, str]]:
        """Each object that differs once, as (kind, name), in report order."""
        return list(dict.fromkeys((d.kind, d.name) for d in self.differences))

    def objects_by_kind(self) -> dict[str, int]:
        return dict(Counter(kind for kind, _name in self.differing_objects()))

    def hidden_by_rule(self) -> dict[str, int]:
        return dict(sorted(Counter(d.hidden_by or "" for d in self.hidden).items()))

    def summary(self) -> str:
        """One line: the verdict, counts by kind, and what ignore rules hid."""
        if self.differences:
            # Objects, not attributes: an index whose definition and predicate differ is one.
            kinds = ", ".join(f"{n} {kind}" for kind, n in self.objects_by_kind().items())
            count = len(self.differing_objects())
            verb = "object differs" if count == 1 else "objects differ"
            line = f"schema-diff: {count} {verb} ({kinds})"
        else:
            line = f"schema-diff: no differences ({self.objects_compared()} objects compared)"
        if self.hidden:
            rules = ", ".join(f"{n} by {rule}" for rule, n in self.hidden_by_rule().items())
            line += f"; {self.hidden_count} hidden ({rules})"
        else:
            line += "; 0 hidden by ignore rules"
        return line
