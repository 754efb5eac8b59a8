"""The names of a clone's databases: the clone itself and its reserved copies.

A copy is recognised by its exact reserved name (plus the `prodclone:` mark the
caller checks), never by a bare `<clone>__` prefix: another project's
`shop__staging` is not a copy of the clone `shop`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# What follows the clone's name in each of its copies' names.
_COPY_SUFFIX = re.compile(r"__(?:tpl_[0-9a-f]{12}|spare_[0-9a-f]{12}_?|restoring|next|old)")
# Copies only ever half made: whole ones are renamed away from these names at once.
_STAGING_SUFFIX = re.compile(r"__(?:spare_[0-9a-f]{12}_|restoring|next|old)")
COPY_NAMES = "__tpl_<12 hex>, __spare_<12 hex>, __restoring, __next, __old"


@dataclass(frozen=True)
class DatabaseNames:
    """A project's two databases on the local server: the clone and the fresh build."""

    clone: str
    fresh: str

    def copies(self, digest: str) -> CloneNames:
        """Every name the clone uses while it holds the dump whose checksum is `digest`."""
        return CloneNames(self.clone, digest)


@dataclass(frozen=True)
class CloneNames:
    """Every database name one clone uses."""

    clone: str
    digest: str

    @property
    def template(self) -> str:
        return f"{self.clone}__tpl_{self.digest[:12]}"

    @property
    def spare(self) -> str:
        return f"{self.clone}__spare_{self.digest[:12]}"

    @property
    def spare_staging(self) -> str:
        """Where the background job builds the spare before renaming it."""
        return self.spare + "_"

    @property
    def restoring(self) -> str:
        return f"{self.clone}__restoring"

    @property
    def next(self) -> str:
        return f"{self.clone}__next"

    @property
    def retired(self) -> str:
        return f"{self.clone}__old"

    def all(self) -> tuple[str, ...]:
        """Every name a load of this dump may create, rename or drop."""
        return (
            self.clone,
            self.template,
            self.spare,
            self.spare_staging,
            self.restoring,
            self.next,
            self.retired,
        )


def is_copy_of(name: str, clone: str) -> bool:
    """Whether `name` is one of the reserved names of `clone`'s copies."""
    return name.startswith(clone) and _COPY_SUFFIX.fullmatch(name[len(clone) :]) is not None


def is_staging_of(name: str, clone: str) -> bool:
    """Whether `name` is where a copy of `clone` is made or retired: never kept across runs."""
    return name.startswith(clone) and _STAGING_SUFFIX.fullmatch(name[len(clone) :]) is not None


def is_clone_name(name: str, clone: str) -> bool:
    return name == clone or is_copy_of(name, clone)


def collides(fresh: str, clone: str) -> bool:
    """Whether a fresh database named `fresh` would take a name the clone uses, or the
    other way round (the fresh build's own round trip stages in `<fresh>__restoring`)."""
    return is_clone_name(fresh, clone) or is_copy_of(clone, fresh)
