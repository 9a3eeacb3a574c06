"""Errors a user can cause, all of one base class.

Every command and runner catches `UserError` alone and prints its message as one line (exit 2).
Anything else is a bug: it keeps its traceback (in a log) and exits 1 with one line saying so.
"""

import re
from typing import Optional


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


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
_NETWORK_SIGNS = ("timed out", "Name or service not known", "nodename nor servname", "Connection refused",
                  "Connection reset", "No route to host", "Max retries exceeded")


def network_reason(error: BaseException) -> Optional[str]:
    """Why a network client failed to reach its server ('Connection refused', 'Name or service not
    known', 'timed out'), read from the error and its causes; None when it is not that kind of
    failure. Clients wrap the socket's error in several layers of their own (urllib3, requests,
    MLflow, KFP), each message repeating the last with object addresses in it."""
    texts, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        texts.append(str(error))
        error = error.__cause__ or error.__context__
    text = " ".join(texts)
    found = _ERRNO.search(text)
    if found:
        return found.group(1).strip().rstrip(".")
    sign = next((s for s in _NETWORK_SIGNS if s.lower() in text.lower()), None)
    return None if sign is None else ("no answer" if sign == "Max retries exceeded" else sign)
