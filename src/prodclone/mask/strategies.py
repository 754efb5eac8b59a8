"""Each strategy as one SQL expression, so a table is masked by one set-based UPDATE.

Determinism without an extension: every derived value starts from
`sha256(key || value)`, PostgreSQL's built-in sha256() (11 and later, RDS
included; pgcrypto is not needed). The key is derived from the secret here and
travels as a bind parameter (`%(mask_key)s`): it is never part of the SQL text.
The key is of fixed length and the digest is only ever used to derive new
values, so a keyed hash serves as well as an HMAC, at half the cost per value.
"""

from __future__ import annotations

import hashlib
import secrets

from psycopg import sql

from prodclone.mask.rules import ColumnRule

KEY_PARAM = "mask_key"
RESERVED_DOMAIN = "example.invalid"  # RFC 2606: never a real mailbox
REDACTED = "[redacted]"
# First names for `name`; the surname is made from the digest, so that no real
# person's full name comes out but by the rarest chance.
_FIRST = (
    *("Ada", "Alex", "Ana", "Ben", "Cleo", "Dan", "Eli", "Eva", "Finn", "Gia", "Hugo"),
    *("Ida", "Ivo", "Jan", "Kai", "Lea", "Leo", "Lina", "Max", "Mia", "Nia", "Noa"),
    *("Ola", "Pia", "Rae", "Rio", "Sam", "Tess", "Uma", "Vic", "Wen", "Zoe"),
)


def derive_key(secret: str) -> bytes:
    """The hashing key: the same secret gives the same key (and outputs) in every run.

    Without a secret, a key of this run only: values still join within one dump.
    """
    if not secret:
        return secrets.token_bytes(32)
    return hashlib.sha256(b"prodclone-mask-v1\0" + secret.encode()).digest()


def digest(value: sql.Composable) -> sql.Composable:
    return sql.SQL("sha256({key}::bytea || convert_to({v}, 'UTF8'))").format(
        key=sql.Placeholder(KEY_PARAM), v=value
    )


def _hex(value: sql.Composable) -> sql.Composable:
    return sql.SQL("encode({}, 'hex')").format(digest(value))


def text_expression(strategy: str, value: sql.Composable, constant: str = "") -> sql.Composable:
    """`value` (text) masked by `strategy`, as text; NULL stays NULL."""
    if strategy == "email":
        return sql.SQL("'user_' || left({h}, 20) || {domain}").format(
            h=_hex(value), domain=sql.Literal("@" + RESERVED_DOMAIN)
        )
    if strategy == "name":
        first = sql.SQL("ARRAY[{}]").format(sql.SQL(", ").join(map(sql.Literal, _FIRST)))
        return sql.SQL(
            "(SELECT ({first})[1 + get_byte(k.h, 0) %% {n}] || ' ' || "
            "initcap(translate(substr(encode(k.h, 'hex'), 3, 8), "
            "'0123456789abcdef', 'aeioubdfgklmnprt')) FROM (SELECT {h} AS h) k)"
        ).format(first=first, n=sql.Literal(len(_FIRST)), h=digest(value))
    if strategy == "digits":
        # Each digit moves by a keyed step of 1 to 9: the format stays, and no digit
        # (so no value holding one) is ever left as it was.
        return sql.SQL(
            "(SELECT string_agg(CASE WHEN t.c BETWEEN '0' AND '9' THEN "
            "chr(48 + (ascii(t.c) - 48 + 1 + (get_byte(k.h, ((t.i - 1) %% 32)::int) "
            "+ ((t.i - 1) / 32)::int) %% 9) %% 10) ELSE t.c END, '' ORDER BY t.i) "
            "FROM (SELECT {h} AS h) k, "
            "regexp_split_to_table({v}, '') WITH ORDINALITY AS t(c, i))"
        ).format(h=digest(value), v=value)
    if strategy == "text":
        return sql.SQL(
            "left(repeat(translate({h}, '0123456789', 'ghijklmnop'), length({v}) / 64 + 1), "
            "length({v}))"
        ).format(h=_hex(value), v=value)
    if strategy == "hash":
        return _hex(value)
    if strategy == "redact":
        return sql.SQL("CASE WHEN {v} IS NULL THEN NULL ELSE {r} END").format(
            v=value, r=sql.Literal(REDACTED)
        )
    if strategy == "null":
        return sql.SQL("NULL")
    if strategy == "constant":
        return sql.Literal(constant)
    raise ValueError(f"no text expression for {strategy}")


def column_expression(rule: ColumnRule, type_name: str, category: str) -> sql.Composable:
    """What the UPDATE sets `rule.column` to, given its type (format_type) and typcategory."""
    column = sql.Identifier(rule.column)
    as_type = sql.SQL(type_name)  # format_type's own output: a type name, never user text
    if rule.strategy == "sql":
        # The user's own expression; % doubled, as the key goes in as a parameter.
        return sql.SQL("({})").format(sql.SQL(rule.value.replace("%", "%%")))
    if rule.strategy == "json":
        return _json_expression(rule, column, as_type)
    if rule.strategy == "null":
        return sql.SQL("NULL")
    value = sql.SQL("{}::text").format(column)
    masked = text_expression(rule.strategy, value, rule.value)
    if rule.strategy == "digits" and category != "S":
        # A number keeps its length: a leading digit that came out 0 becomes 9.
        masked = sql.SQL("regexp_replace({}, '^(-?)0', '\\19')").format(masked)
    if category == "S":
        # Text types take text by assignment; a value too long for varchar(n) fails
        # loudly rather than being cut (a cut email could lose its uniqueness).
        return masked
    return sql.SQL("({})::{}").format(masked, as_type)


def _json_expression(
    rule: ColumnRule, column: sql.Composable, as_type: sql.Composable
) -> sql.Composable:
    """Each path in turn, the document named once per step (no repeated sub-expressions);
    a missing path or a JSON null is left as it is."""
    current: sql.Composable = sql.SQL("{}::jsonb").format(column)
    for path, strategy in rule.json_paths:
        where = sql.Literal("{" + ",".join(path) + "}")
        old = sql.SQL("(s.j #>> {})").format(where)
        new = (
            sql.SQL("'null'::jsonb")
            if strategy == "null"
            else sql.SQL("to_jsonb({})").format(text_expression(strategy, old))
        )
        current = sql.SQL(
            "(SELECT jsonb_set(s.j, {p}, coalesce({new}, s.j #> {p}, 'null'::jsonb), false) "
            "FROM (SELECT {cur} AS j) s)"
        ).format(cur=current, p=where, new=new)
    return sql.SQL("({})::{}").format(current, as_type)
