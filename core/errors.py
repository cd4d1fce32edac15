"""Errors meant for the user: the CLI prints the message and exits with `exit_code`, no traceback."""


class UserError(Exception):
    """Something the user can fix: the message says what happened and what to do."""

    exit_code = 1


class UsageError(UserError):
    """An unknown option value or a malformed config."""

    exit_code = 2


class DataError(UserError):
    """A data file is missing, corrupt or not what was expected."""
