"""Console reporting: our code reports through `logging` (progress bars through tqdm); a CLI calls console() once."""
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


def console(level=logging.INFO) -> None:
    """Show log records of `level` and above on stderr, as plain lines (one handler, however often called)."""
    root = logging.getLogger()
    if not any(isinstance(h, _Console) for h in root.handlers):
        root.addHandler(_Console())
    root.setLevel(level)
