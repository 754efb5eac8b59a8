"""Connection strings shown with the password masked: libpq reads the rest as it was."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict

from prodclone.pg.conninfo import UNSHOWN, mask, normalize

SECRET = "s3cr#t?p@ss"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:pw-in-userinfo@db.example:5432/shop",
        "postgresql+psycopg://app:pw-in-userinfo@db.example/shop",
        "postgres://app@db.example/shop?password=pw-in-query&sslmode=require",
        "postgresql://app@db.example/shop?pass%77ord=pw-in-encoded-key",
        "host=db.example user=app password=pw-in-keywords dbname=shop",
        "host=db.example user=app password='pw in quotes' dbname=shop",
    ],
)
def test_password_gone_everything_else_kept(url: str) -> None:
    shown = mask(url)
    assert "pw-in" not in shown and "pw in" not in shown, shown
    before = conninfo_to_dict(normalize(url))
    after = conninfo_to_dict(normalize(shown))
    assert after.pop("password", "***") == "***"
    before.pop("password")
    assert after == before


def test_url_special_characters_in_the_password_leave_no_tail() -> None:
    # Percent-encoded as a URL needs it; libpq decodes it back to SECRET.
    url = "postgresql://app:s3cr%23t%3Fp%40ss@db.example/shop"
    assert conninfo_to_dict(url)["password"] == SECRET
    assert mask(url) == "postgresql://app:***@db.example/shop"


def test_raw_special_characters_show_nothing_of_the_password() -> None:
    # Not encoded: libpq's user info ends at the first `@`, so its password is `s3cr#t?p`;
    # a generic URL parser would stop at the `#` and leave `t?p` showing.
    url = "postgresql://app:s3cr#t?p@ss@db.example/shop"
    assert conninfo_to_dict(url)["password"] == "s3cr#t?p"
    assert mask(url) == "postgresql://app:***@ss@db.example/shop"


def test_a_slash_before_the_at_hides_what_a_reader_takes_for_a_password() -> None:
    shown = mask("postgresql://app:pa/ss@db.example/shop")
    assert "pa/ss" not in shown and "ss@" not in shown, shown


def test_unparseable_text_is_not_shown_at_all() -> None:
    assert mask("postgresql://app:pa%zzss@db.example/shop") == UNSHOWN
    assert mask("host='unterminated password=pw") == UNSHOWN


def test_no_password_is_left_as_it_is() -> None:
    url = "postgresql://app@db.example:5433/shop?sslmode=require"
    assert mask(url) == url
