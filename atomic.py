"""Atomic file writes: a temporary file beside the target, flushed and fsynced, then renamed onto it."""
import contextlib
import os
import tempfile
from pathlib import Path

from errors import signals_deferred


@contextlib.contextmanager
def atomic_open(path, mode="wb", **kwargs):
    """Open a temporary file in `path`'s folder; on a clean exit it replaces `path`, on an error it is removed.

    A crash at any moment leaves either the previous file or the complete new one, never a partial file.
    """
    path = Path(path)
    tmp = None
    try:
        with signals_deferred():  # created and recorded in tmp before a signal can stop us
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; the result should have the usual permissions
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
