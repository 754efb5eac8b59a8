"""Domain errors. Tasks turn them into one clear line and a non-zero exit."""


class ProdcloneError(Exception):
    """A failure the user can act on; its message is one line that says how."""

    exit_code: int = 1


class SettingsError(ProdcloneError):
    """A configuration value is missing or invalid."""

    exit_code = 2


class UsageError(ProdcloneError):
    """A task flag has a value the task cannot use."""

    exit_code = 2
