"""The object kinds the schema comparison reads, each with one catalog query."""

from prodclone.schema.kinds.access import POLICIES, PUBLICATIONS, RULES
from prodclone.schema.kinds.base import META_PREFIX, PARENT, Kind
from prodclone.schema.kinds.fallback import OTHER_OBJECTS
from prodclone.schema.kinds.namespaces import COLLATIONS, DEFAULT_PRIVILEGES, EXTENSIONS, SCHEMAS
from prodclone.schema.kinds.relations import (
    COLUMNS,
    CONSTRAINTS,
    INDEXES,
    MATERIALIZED_VIEWS,
    SEQUENCES,
    TABLES,
    VIEWS,
)
from prodclone.schema.kinds.routines import AGGREGATES, EVENT_TRIGGERS, FUNCTIONS, TRIGGERS
from prodclone.schema.kinds.types import COMPOSITES, DOMAINS, ENUMS, RANGES

__all__ = ["ALL_KINDS", "KINDS_BY_NAME", "META_PREFIX", "PARENT", "Kind"]

# In report order: containers first, then what lives in them.
ALL_KINDS: tuple[Kind, ...] = (
    SCHEMAS,
    EXTENSIONS,
    COLLATIONS,
    ENUMS,
    DOMAINS,
    COMPOSITES,
    RANGES,
    TABLES,
    COLUMNS,
    CONSTRAINTS,
    INDEXES,
    SEQUENCES,
    VIEWS,
    MATERIALIZED_VIEWS,
    FUNCTIONS,
    AGGREGATES,
    TRIGGERS,
    EVENT_TRIGGERS,
    POLICIES,
    RULES,
    PUBLICATIONS,
    DEFAULT_PRIVILEGES,
    OTHER_OBJECTS,
)

KINDS_BY_NAME: dict[str, Kind] = {kind.name: kind for kind in ALL_KINDS}
