"""The reference gate: names in function bodies that the catalog no longer has."""

from prodclone.references.check import check_references, split_preexisting
from prodclone.references.model import Finding, ReferenceReport, RenamedLiteral, Skipped
from prodclone.references.names import Names, Renames, read_names, renames_between

__all__ = [
    "Finding",
    "Names",
    "ReferenceReport",
    "RenamedLiteral",
    "Renames",
    "Skipped",
    "check_references",
    "read_names",
    "renames_between",
    "split_preexisting",
]
