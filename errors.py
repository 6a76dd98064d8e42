"""One-line user-facing errors: the exception every CLI prints as `error: <message>` and exits 2 on."""
import signal


class UserError(Exception):
    """A problem with the user's input (a file, a flag, a config) and how to fix it, in one line."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: raised where the program is, so it unwinds exactly as on Ctrl-C (every writer's
    cleanup removes its temporary files) and then exits 128 + the signal number."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


# the signals that end a CLI the way Ctrl-C does (SIGHUP: the terminal closed; absent on Windows)
STOP_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s)


def _raise_terminated(signum, frame):
    raise Terminated(signum)


def run_cli(main, argv=None) -> int:
    """Run a CLI body; a UserError becomes `error: <message>` on stderr and exit code 2, Ctrl-C exit 130,
    SIGTERM/SIGHUP 128 + the signal number, each after the same cleanup (no partial file is left)."""
    import sys

    previous = {}
    for sig in STOP_SIGNALS:
        try:
            previous[sig] = signal.signal(sig, _raise_terminated)
        except ValueError:  # not the main thread: signals stay as they are
            break
    try:
        main(argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Terminated as exc:
        print(f"terminated by {signal.Signals(exc.signum).name}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
