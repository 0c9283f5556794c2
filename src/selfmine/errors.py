"""The one base of every error a user can cause or mend (bad input, a missing extra, a machine that cannot
run a helper): the CLI catches it once and prints its message as one line, never a traceback."""


class UserError(Exception):
    """An error whose message, alone, tells the user what happened and what to do. The CLI ends with
    `exit_code` (2: bad usage or input, like click's own usage errors); a subclass may set another."""

    exit_code: int = 2
