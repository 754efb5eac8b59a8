"""The pgpass line db.clone-prod writes: libpq's escaping of `:` and `\\` in every field."""

from __future__ import annotations

from prodclone.clone.dump import _pgpass_line


def test_plain_fields() -> None:
    assert _pgpass_line("127.0.0.1", 15432, "prod", "postgres", "pw") == (
        "127.0.0.1:15432:prod:postgres:pw\n"
    )


def test_colon_and_backslash_are_escaped_in_every_field() -> None:
    line = _pgpass_line("h:1", 5432, "d\\b", "u:s", "p\\a:ss")
    assert line == "h\\:1:5432:d\\\\b:u\\:s:p\\\\a\\:ss\n"


def test_backslash_before_colon_is_escaped_first() -> None:
    # `\:` in a password must stay two characters, not turn into an escaped separator.
    assert _pgpass_line("h", 1, "d", "u", "a\\:b") == "h:1:d:u:a\\\\\\:b\n"


def test_one_line_whatever_the_password() -> None:
    assert _pgpass_line("h", 1, "d", "u", "x" * 200).count("\n") == 1
