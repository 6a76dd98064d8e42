"""Atomic file writes: a temporary file beside the target, flushed and fsynced, then renamed onto it."""
import contextlib
import os
import secrets

from errors import signals_deferred

TEMP_SUFFIX = ".tmp"  # atomic_open's temporary files: .<name>.<random>.tmp (a killed writer leaves one)


def current_umask() -> int:
    """The process umask (reading it means setting it; it is put back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def reserve_temp_path(path, suffix=None) -> str:
    """Create an empty hidden file .<name>.<random><suffix> beside `path` for an atomic os.replace.

    suffix: default ".part<the target's extension>", for writers that need a path with the right extension
    (ffmpeg); call it under signals_deferred() and record the result. Created with the usual permissions
    (umask applies), unlike tempfile.mkstemp's private 0600.
    """
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    suffix = f".part{os.path.splitext(name)[1]}" if suffix is None else suffix
    while True:
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}{suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_open(path, mode="wb", **kwargs):
    """Open a temporary file in `path`'s folder; on a clean exit it replaces `path`, on an error it is removed.

    A crash at any moment leaves either the previous file or the complete new one, never a partial file.
    """
    tmp = None
    try:
        with signals_deferred():  # created and recorded in tmp before a signal can stop us
            tmp = reserve_temp_path(path, suffix=TEMP_SUFFIX)
        with open(tmp, mode, **kwargs) as handle:
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
