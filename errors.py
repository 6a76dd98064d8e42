"""One-line user-facing errors: the exception every CLI prints as `error: <message>` and exits 2 on."""


class UserError(Exception):
    """A problem with the user's input (a file, a flag, a config) and how to fix it, in one line."""


def run_cli(main, argv=None) -> int:
    """Run a CLI body; a UserError becomes `error: <message>` on stderr and exit code 2, Ctrl-C exit 130."""
    import sys

    try:
        main(argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
