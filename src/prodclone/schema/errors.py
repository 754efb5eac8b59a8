"""The one error the comparison raises: it could not compare (exit status 2)."""

from prodclone.errors import ProdcloneError


class SchemaDiffError(ProdcloneError):
    """The two databases could not be compared; never mistaken for "no differences"."""

    exit_code = 2
