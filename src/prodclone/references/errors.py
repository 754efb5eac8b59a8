"""The reference check could not run: never mistaken for "no broken references"."""

from prodclone.errors import ProdcloneError


class ReferenceCheckError(ProdcloneError):
    exit_code = 2
