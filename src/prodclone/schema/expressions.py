"""SQL text that a dump and restore rewrites without changing what it means, read as one.

PostgreSQL stores `status IN ('a', 'b')` on a varchar column as
`(status)::text = ANY ((ARRAY['a'::varchar, 'b'::varchar])::text[])`; restored from a
dump, the same constraint reads `... ANY (ARRAY[('a'::varchar)::text, ...])`: the cast
of the array has moved onto each element. Both texts are parsed (pglast, PostgreSQL's
own parser), the array cast is spread onto the elements, and the two are equal when
what is left prints the same. Anything else (another list, another operator, text
that does not parse) stays a difference.
"""

from __future__ import annotations

import functools
from typing import Any

from pglast import ast, parse_sql
from pglast.parser import ParseError
from pglast.stream import RawStream
from pglast.visitors import Visitor

# How each catalog text parses: a statement (an index, view or trigger definition), an
# expression (a default, a predicate, a policy), or a table constraint (`CHECK (...)`).
_WRAPPERS = ("{}", "SELECT {}", "ALTER TABLE t ADD {}")


def same_sql(a: str, b: str) -> bool:
    """Whether `a` and `b` differ only in the forms a dump and restore rewrites."""
    left = _normalized(a)
    return left is not None and left == _normalized(b)


@functools.lru_cache(maxsize=1024)
def _normalized(text: str) -> str | None:
    for wrapper in _WRAPPERS:
        try:
            tree = parse_sql(wrapper.format(text))
        except ParseError:
            continue
        try:
            _SpreadArrayCasts()(tree)
            return str(RawStream()(tree))
        except Exception:  # pglast cannot print it back: leave the difference shown
            return None
    return None


class _SpreadArrayCasts(Visitor):
    """`(ARRAY[x, y])::t[]` -> `ARRAY[x::t, y::t]`, as pg_restore reads it back."""

    def visit_TypeCast(self, _ancestors: Any, node: ast.TypeCast) -> ast.Node | None:
        target = node.typeName
        if target is None or not isinstance(node.arg, ast.A_ArrayExpr) or not target.arrayBounds:
            return None
        element_type = ast.TypeName(
            names=target.names,
            typmods=target.typmods,
            typemod=target.typemod,
            setof=target.setof,
            pct_type=target.pct_type,
        )
        elements = node.arg.elements or ()
        return ast.A_ArrayExpr(
            elements=tuple(ast.TypeCast(arg=item, typeName=element_type) for item in elements)
        )
