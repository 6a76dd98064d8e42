"""One-line user-facing errors: the exception every CLI prints as `error: <message>` and exits 2 on."""
import contextlib
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


_held = {"depth": 0, "pending": None}  # signals_deferred(): how deep, and the signal that came meanwhile


def _raise_for(signum: int):
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(signum)


def _on_stop_signal(signum, frame):
    if _held["depth"]:
        _held["pending"] = signum
        return
    _raise_for(signum)


@contextlib.contextmanager
def signals_deferred():
    """Hold Ctrl-C, SIGTERM and SIGHUP (as run_cli handles them) until the block ends.

    For the few lines that create a temporary file or start a child process and then record it for cleanup:
    an interruption must not fall between the two, or the file (or a child still writing it) is left behind.
    """
    _held["depth"] += 1
    try:
        yield
    finally:
        _held["depth"] -= 1
        if not _held["depth"] and _held["pending"] is not None:
            signum, _held["pending"] = _held["pending"], None
            _raise_for(signum)


def run_cli(main, argv=None) -> int:
    """Run a CLI body; a UserError becomes `error: <message>` on stderr and exit code 2, Ctrl-C exit 130,
    SIGTERM/SIGHUP 128 + the signal number, each after the same cleanup (no partial file is left)."""
    import sys

    previous = {}
    for sig in (signal.SIGINT, *STOP_SIGNALS):
        if sig == signal.SIGINT and signal.getsignal(sig) is not signal.default_int_handler:
            continue  # Ctrl-C ignored or handled by the caller: leave it so
        try:
            previous[sig] = signal.signal(sig, _on_stop_signal)
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
