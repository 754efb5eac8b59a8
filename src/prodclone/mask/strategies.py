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
PERMUTATIONS_PARAM = "mask_digits"
# Keyed permutations of the ten digits, each one cycle through all ten (no digit
# maps to itself), packed 10 bytes apiece into one bytea parameter.
PERMUTATIONS = 4096
_HEXES = "0123456789abcdef"
_LETTERS = "aeioubdfgklmnprt"
RESERVED_DOMAIN = "example.invalid"  # RFC 2606: never a real mailbox
REDACTED = "[redacted]"


def derive_key(secret: str) -> bytes:
    """The hashing key: the same secret gives the same key (and outputs) in every run.

    Without a secret, a key of this run only: values still join within one dump.
    """
    if not secret:
        return secrets.token_bytes(32)
    return hashlib.sha256(b"prodclone-mask-v1\0" + secret.encode()).digest()


def permutations(key: bytes) -> bytes:
    """PERMUTATIONS digit cycles drawn from the key: the same key, the same table."""
    stream = _Stream(key)
    table = bytearray()
    for _ in range(PERMUTATIONS):
        order = list(b"0123456789")
        for index in range(9, 0, -1):  # Fisher-Yates
            swap = stream.below(index + 1)
            order[index], order[swap] = order[swap], order[index]
        mapped = dict(zip(order, order[1:] + order[:1], strict=True))
        table += bytes(mapped[digit] for digit in b"0123456789")
    return bytes(table)


class _Stream:
    """Numbers from SHA-256 in counter mode: stable across Python versions, unlike random."""

    def __init__(self, key: bytes) -> None:
        self.key, self.counter, self.pool = key, 0, b""

    def below(self, bound: int) -> int:
        while True:
            if not self.pool:
                self.counter += 1
                self.pool = hashlib.sha256(
                    self.key + b"digits" + self.counter.to_bytes(8, "big")
                ).digest()
            byte, self.pool = self.pool[0], self.pool[1:]
            if byte < 256 - 256 % bound:  # no modulo bias
                return byte % bound


def parameters(key: bytes) -> dict[str, bytes]:
    """The bind parameters every masking statement takes."""
    return {KEY_PARAM: key, PERMUTATIONS_PARAM: permutations(key)}


def _permutation(value: sql.Composable) -> sql.Composable:
    """The digit permutation that 12 bits of the value's digest choose, as text."""
    return sql.SQL(
        "convert_from(substring({table} FROM ((('x' || left({h}, 3))::bit(12)::int) * 10 + 1) "
        "FOR 10), 'SQL_ASCII')"
    ).format(
        table=sql.SQL("{}::bytea").format(sql.Placeholder(PERMUTATIONS_PARAM)),
        h=_hex(value),
    )


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
        # Two invented words: no real person's name comes out but by the rarest chance.
        return sql.SQL(
            "initcap(translate(overlay(left({h}, 13) PLACING ' ' FROM 6 FOR 0), {hexes}, "
            "{letters}))"
        ).format(hexes=sql.Literal(_HEXES), letters=sql.Literal(_LETTERS), h=_hex(value))
    if strategy == "digits":
        # The value's digits swapped by a keyed permutation without a fixed point: length
        # and format stay, and no digit is left as it was. One translate() over the whole
        # value: SQL per character costs ten times as much.
        return sql.SQL("translate({v}, '0123456789', {permutation})").format(
            v=value, permutation=_permutation(value)
        )
    if strategy == "text":
        return sql.SQL("left(repeat({h}, length({v}) / 64 + 1), length({v}))").format(
            h=_hex(value), v=value
        )
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
