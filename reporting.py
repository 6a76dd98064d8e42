"""Console reporting: our code reports through `logging` (progress bars through tqdm); a CLI calls console() once."""
import contextlib
import logging
import sys


class _Console(logging.StreamHandler):
    """Messages only, to whatever sys.stderr is when a record is written (so a replaced stderr, e.g. a test's
    capture, is honoured and a closed one never held)."""

    def __init__(self):
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ sets it; the property always answers sys.stderr
        pass


NAME = "stillmotion.console"


def console(level=logging.INFO) -> None:
    """Show log records of `level` and above on stderr, as plain lines (one handler, however often called,
    found by its name: a CLI module run again, e.g. by runpy, brings a new _Console class)."""
    root = logging.getLogger()
    if not any(h.get_name() == NAME for h in root.handlers):
        handler = _Console()
        handler.set_name(NAME)
        root.addHandler(handler)
    root.setLevel(level)


@contextlib.contextmanager
def captured(stream, level=logging.INFO):
    """For the span of one job in a long-lived process (the web app): log records of `level` and above also go
    to `stream` as plain lines; the root logger's level and handlers are as before afterwards."""
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.setLevel(level)
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(min(old_level, level))
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
