"""One-line user-facing errors: the exception every CLI prints as `error: <message>` and exits 2 on."""


class UserError(Exception):
    """A problem with the user's input (a file, a flag, a config) and how to fix it, in one line."""
