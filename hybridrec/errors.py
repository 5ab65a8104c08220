"""One exception type for every problem a user can fix (bad data, bad params, missing files).

Stages catch it and print its one-line message instead of a traceback (see :mod:`hybridrec.cli`).
"""


class UserError(Exception):
    """A problem with the user's input, reported as one readable line."""


class DataError(UserError):
    """Bad input data: names the file and, where known, the row and column."""

    def __init__(self, path, problem, row=None, column=None):
        self.path, self.problem, self.row, self.column = str(path), problem, row, column
        where = [self.path]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {problem}")


class ParamsError(UserError):
    """A params.yaml key that is unknown, missing or of the wrong type."""
