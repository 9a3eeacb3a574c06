"""Errors a user can cause, all of one base class.

Every command and runner catches `UserError` alone and prints its message as one line (exit 2).
Anything else is a bug: it keeps its traceback (in a log) and exits 1 with one line saying so.
"""


class UserError(Exception):
    """Something the user can fix (an argument, a file, a setting); the message says what, in one line."""


class InputError(UserError):
    """Input data cannot be read; the message names the file and the problem."""


class ConfigError(UserError):
    """A setting cannot work: a path, a flag, a schema version, the MLMD store."""


class PolicyError(ConfigError):
    """The gate policy file is not valid; the message says where."""


class NotFound(UserError):
    """Nothing in the MLMD store matches what was asked (a run, a model, a baseline)."""
