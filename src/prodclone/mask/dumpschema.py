"""The tables, columns and foreign keys a dump holds, read from its schema script, so that
masking rules are checked before any database is created (see `dumpcheck`).

The script (`pg_restore --schema-only`, read by the local package) is parsed
by PostgreSQL's own grammar (pglast); only CREATE TABLE, CREATE TYPE ... AS
(...), foreign keys and the relations that are not tables are read. A child
table lists only its own columns, so inherited ones come from its parents, and
a typed table's from its type. Whatever cannot be read for sure (a statement
this grammar does not know, a parent or type the script does not define, a
type of the database's own) is left unknown, and a rule on it is left to the
check in the database itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from pglast import ast, parser
from pglast.enums import ConstrType

from prodclone.mask.fit import ColumnFacts, ForeignKey

Name = tuple[str, str]  # (schema, table or type)
Columns = dict[str, ColumnFacts]

# Types a dump names without a schema, or in pg_catalog (its search_path is empty), whose
# category is sure: pg_type.typcategory, and the name format_type() gives them.
BUILTIN_TYPES: dict[str, tuple[str, str]] = {
    "text": ("S", "text"),
    "varchar": ("S", "character varying"),
    "bpchar": ("S", "character"),
    "int2": ("N", "smallint"),
    "int4": ("N", "integer"),
    "int8": ("N", "bigint"),
    "float4": ("N", "real"),
    "float8": ("N", "double precision"),
    "numeric": ("N", "numeric"),
    "bool": ("B", "boolean"),
    "date": ("D", "date"),
    "time": ("D", "time without time zone"),
    "timetz": ("D", "time with time zone"),
    "timestamp": ("D", "timestamp without time zone"),
    "timestamptz": ("D", "timestamp with time zone"),
    "interval": ("T", "interval"),
    "json": ("U", "json"),
    "jsonb": ("U", "jsonb"),
    "uuid": ("U", "uuid"),
    "bytea": ("U", "bytea"),
    "inet": ("I", "inet"),
    "cidr": ("I", "cidr"),
}


@dataclass(frozen=True)
class DumpTables:
    """Each table's columns (None: the table is there, its columns are not known)."""

    columns: dict[Name, Columns | None]
    # False when a statement could not be parsed: a table missing here may still exist.
    complete: bool
    # Relations masking does not change, by what they are ("view", "foreign table", ...).
    others: dict[Name, str] = field(default_factory=dict)
    foreign_keys: tuple[ForeignKey, ...] = ()


@dataclass
class _Table:
    own: list[tuple[str, ColumnFacts | None]]  # None: `WITH OPTIONS`, typed by its parent
    parents: list[Name | None]  # None: a parent named without its schema
    of_type: Name | None = None
    typed_unknown: bool = False


def tables_in_script(script: str) -> DumpTables:
    """The tables of a schema script without psql's backslash commands (`\\restrict`)."""
    tables: dict[Name, _Table] = {}
    types: dict[Name, Columns] = {}
    others: dict[Name, str] = {}
    foreign_keys: list[ForeignKey] = []
    complete = True
    try:
        pieces = parser.split(script, with_parser=False)
    except parser.ParseError:  # an unterminated string or comment: nothing is sure
        return DumpTables({}, complete=False)
    for piece in pieces:
        try:
            statements = parser.parse_sql(piece)
        except parser.ParseError:
            complete = False  # a syntax newer than this grammar: it may be a table
            continue
        for raw in statements:
            statement = raw.stmt
            # A foreign table's statement holds a CreateStmt, but it is not a table
            # masking changes; only top-level statements are taken.
            if isinstance(statement, ast.CreateStmt):
                name = _name(statement.relation)
                if name is None:
                    complete = False
                    continue
                tables[name] = _table(statement)
            elif statement is not None and (other := _not_a_table(statement)) is not None:
                name, kind = other
                others[name] = kind
            elif isinstance(statement, ast.AlterTableStmt):
                foreign_keys += _foreign_keys(statement)
            elif isinstance(statement, ast.CompositeTypeStmt):
                name = _name(statement.typevar)
                if name is not None:
                    types[name] = {
                        c.colname: _facts(c) or ColumnFacts(None, None)
                        for c in statement.coldeflist or ()
                        if c.colname
                    }
    columns = {name: _columns(name, tables, types, set()) for name in tables}
    return DumpTables(columns, complete, others, tuple(foreign_keys))


def _foreign_keys(statement: ast.AlterTableStmt) -> list[ForeignKey]:
    """`ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY`, as pg_dump writes every one."""
    found: list[ForeignKey] = []
    own = _name(statement.relation)
    for command in statement.cmds or ():
        constraint = getattr(command, "def_", None)
        if not isinstance(constraint, ast.Constraint):
            continue
        if constraint.contype != ConstrType.CONSTR_FOREIGN:
            continue
        other = _name(constraint.pktable)
        mine = [a.sval for a in constraint.fk_attrs or () if isinstance(a, ast.String)]
        theirs = [a.sval for a in constraint.pk_attrs or () if isinstance(a, ast.String)]
        if own is None or other is None or len(mine) != len(theirs):
            continue
        for column, referenced in zip(mine, theirs, strict=True):
            found.append(
                (
                    f"{own[0]}.{own[1]}.{column}",
                    f"{other[0]}.{other[1]}.{referenced}",
                    constraint.conname or "",
                )
            )
    return found


def _not_a_table(statement: ast.Node) -> tuple[Name, str] | None:
    """A view, materialized view or foreign table: named in a refusal for what it is."""
    if isinstance(statement, ast.ViewStmt):
        relation, kind = statement.view, "a view"
    elif isinstance(statement, ast.CreateTableAsStmt) and statement.into is not None:
        relation, kind = statement.into.rel, "a materialized view"
    elif isinstance(statement, ast.CreateForeignTableStmt) and statement.base is not None:
        relation, kind = statement.base.relation, "a foreign table"
    else:
        return None
    name = _name(relation)
    return None if name is None else (name, kind)


def _name(relation: ast.RangeVar | None) -> Name | None:
    # pg_dump writes every name with its schema; one without cannot be placed for sure.
    if relation is None or not relation.schemaname or not relation.relname:
        return None
    return (relation.schemaname, relation.relname)


def _table(statement: ast.CreateStmt) -> _Table:
    own = [
        (element.colname, _facts(element))
        for element in statement.tableElts or ()
        if isinstance(element, ast.ColumnDef) and element.colname
    ]
    parents = [_name(parent) for parent in statement.inhRelations or ()]
    table = _Table(own, parents)
    if statement.ofTypename is not None:
        names = _names(statement.ofTypename)
        if len(names) == 2:
            table.of_type = (names[0], names[1])
        else:
            table.typed_unknown = True
    return table


def _names(type_name: ast.TypeName) -> list[str]:
    return [n.sval for n in type_name.names or () if isinstance(n, ast.String) and n.sval]


def _facts(column: ast.ColumnDef) -> ColumnFacts | None:
    """What the column's definition says for sure; None without a type (`WITH OPTIONS`)."""
    kinds = {c.contype for c in column.constraints or () if isinstance(c, ast.Constraint)}
    not_null = bool(column.is_not_null) or ConstrType.CONSTR_NOTNULL in kinds
    generated = ConstrType.CONSTR_GENERATED in kinds
    if column.typeName is None:
        return None if not (not_null or generated) else ColumnFacts(None, None, not_null, generated)
    names = _names(column.typeName)
    builtin = len(names) == 1 or (len(names) == 2 and names[0] == "pg_catalog")
    known = BUILTIN_TYPES.get(names[-1]) if builtin and names else None
    if known is None:
        return ColumnFacts(None, None, not_null, generated)
    category, shown = known
    if column.typeName.arrayBounds:
        category, shown = "A", f"{shown}[]"
    return ColumnFacts(shown, category, not_null, generated)


def _columns(
    name: Name, tables: dict[Name, _Table], types: dict[Name, Columns], seen: set[Name]
) -> Columns | None:
    table = tables.get(name)
    if table is None or name in seen or table.typed_unknown:
        return None
    found: Columns = {}
    if table.of_type is not None:
        if table.of_type not in types:
            return None
        found.update(types[table.of_type])
    for parent in table.parents:
        inherited = None if parent is None else _columns(parent, tables, types, seen | {name})
        if inherited is None:
            return None
        found.update(inherited)
    for column, facts in table.own:
        before = found.get(column)
        if facts is None:
            found[column] = before or ColumnFacts(None, None)
        elif facts.type_name is None and before is not None:
            # `WITH OPTIONS NOT NULL` on an inherited or typed column: its type stays.
            found[column] = replace(before, not_null=before.not_null or facts.not_null)
        else:
            found[column] = facts
    return found
