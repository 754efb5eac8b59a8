"""What a task masks with: the rules, the secret and where masking happens."""

from __future__ import annotations

from dataclasses import dataclass, field

from prodclone.mask.rules import MaskRules


@dataclass(frozen=True)
class MaskPolicy:
    """`secret` keys the masked values (empty: they join within one run only);
    `in_aws`: mask on the throwaway instance before the dump leaves AWS."""

    rules: MaskRules
    secret: str = field(default="", repr=False)
    in_aws: bool = False
