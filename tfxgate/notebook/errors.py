"""The errors the notebook API raises: one base class, `tfxgate.Error`, so that a notebook can
catch what its user can fix without catching our bugs."""


class Error(Exception):
    """Something the caller can fix: bad data handed over, an unknown project or run; the message
    says what, in one line."""

    def _render_traceback_(self):
        """How IPython shows it: the one line, not our stack (the caller's to fix, not a bug)."""
        return [f"tfxgate.{type(self).__name__}: {self}"]


class DataError(Error):
    """The data handed to `tfxgate.validate` cannot be validated (duplicate or non-text column
    names, no rows, an unreadable file)."""


class ProjectError(Error):
    """The project, run or feature named does not exist, or its settings cannot be read."""
