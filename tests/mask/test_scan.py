"""What db.scan-pii takes for personal: names and sampled values."""

from __future__ import annotations

import pytest

from prodclone.mask.scan import by_content, by_name, luhn_ok


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("email", "email"),
        ("billing_email", "email"),
        ("mobile_phone", "phone"),
        ("iban", "bank account"),
        ("ssn", "national id"),
        ("date_of_birth", "birth date"),
        ("first_name", "name"),
        ("street_address", "address"),
        ("last_login_ip", "ip address"),
        ("api_token", "secret"),
    ],
)
def test_names_that_look_personal(column: str, kind: str) -> None:
    assert by_name(column) is not None and by_name(column)[0] == kind  # type: ignore[index]


@pytest.mark.parametrize("column", ["id", "created_at", "status", "total", "kind", "filename"])
def test_names_that_do_not(column: str) -> None:
    assert by_name(column) is None


def test_content_that_looks_personal() -> None:
    assert by_content(["a@b.io", "c@d.org", None]) == (
        "values look like emails (2 of 2 sampled)",
        "email",
    )
    assert by_content(["4111 1111 1111 1111", "5500-0000-0000-0004"])[0].startswith(  # type: ignore[index]
        "values look like card numbers"
    )
    assert by_content(["DE89 3704 0044 0532 0130 00", "GB29NWBK60161331926819"])[0].startswith(  # type: ignore[index]
        "values look like IBANs"
    )
    assert by_content(["+1 (555) 010-9999", "030 1234567"])[0].startswith(  # type: ignore[index]
        "values look like phone numbers"
    )


def test_content_that_does_not() -> None:
    assert by_content(["open", "closed", "open"]) is None
    assert by_content(["4111 1111 1111 1112", "1234 5678 9012 3456"]) is None  # Luhn fails
    assert by_content([None, None]) is None
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
