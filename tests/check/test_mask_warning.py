"""refactor-check names the columns that look personal and have no masking rule."""

from __future__ import annotations

from tests.check.conftest import CheckProject


def test_personal_columns_without_a_rule_are_named(checker: CheckProject) -> None:
    checker.configure(mask={"rules": {"public.organizations.name": "keep"}})
    result = checker.check("--skip-smoke")
    assert result.code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert (
        "warning: public.legal_entity.tax_id looks personal (name looks like national id) "
        "and has no rule in prodclone.mask.rules; add one (`digits`, or `keep` if it is not "
        "personal); `inv db.scan-pii` lists them"
    ) in warnings
    assert not [line for line in warnings if "public.organizations.name" in line]


def test_no_rules_no_warnings(checker: CheckProject) -> None:
    checker.configure()
    result = checker.check("--skip-smoke")
    assert result.code == 0, result.output
    assert "looks personal" not in result.output
