"""Output paths checked before any work: a writable folder, no folder where a file goes, never an input."""
from __future__ import annotations

import errno
import os
import tempfile

from errors import UserError


def _nearest_existing(path: str) -> str:
    """`path` or its closest ancestor that exists (as anything: a file, a folder, /proc)."""
    current = os.path.abspath(path)
    while not os.path.lexists(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def _why_unwritable(folder: str) -> str | None:
    """None when a file can be created in `folder` (tried: a hidden probe file, removed at once), else why not.

    Trying is the only test that holds for root on read-only mounts and pseudo file systems such as /proc,
    where os.access says yes.
    """
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-test-")
    except OSError as err:
        if err.errno in (errno.EACCES, errno.EPERM):
            return "permission denied"
        if err.errno == errno.EROFS:
            return "read-only file system"
        if err.errno == errno.ENOENT:  # e.g. /proc and /sys: folders in which no file can be made
            return "no files can be created there"
        return err.strerror or type(err).__name__
    os.close(fd)
    os.unlink(probe)
    return None


def _check_folder_for(folder: str, flag: str, create: bool) -> None:
    """The folder that will hold an output: exists (or can be made, with `create`), is a folder, is writable."""
    existing = _nearest_existing(folder)
    if existing != os.path.abspath(folder) and not create:
        if os.path.isdir(existing):
            raise UserError(f"output folder {folder} does not exist; create it or choose another {flag}")
    if not os.path.isdir(existing):
        raise UserError(f"{existing} is a file, not a folder, so nothing can be written under it; "
                        f"choose another {flag}")
    why = _why_unwritable(existing)
    if why is not None:
        raise UserError(f"cannot write in {existing} ({why}); choose another {flag} in a folder you can write to")


def check_output_file(path, flag: str, inputs=None, make_folder: bool = False) -> None:
    """UserError unless a file can be written at `path`: its folder exists (or, with make_folder, can be made)
    and is writable, `path` is not a folder, and it is none of `inputs` ({flag: path} or (flag, path) pairs:
    an input is never overwritten). Creates nothing."""
    path = os.fspath(path)
    if os.path.isdir(path):
        example = os.path.join(path, "result" + (os.path.splitext(path)[1] or ".mp4"))
        raise UserError(f"{flag} {path} is an existing folder; pass a file path such as {example}")
    _check_folder_for(os.path.dirname(os.path.abspath(path)), flag, create=make_folder)
    refuse_input_as_output(path, inputs or {}, flag)


def refuse_input_as_output(output, inputs, flag: str) -> None:
    """One UserError line if `output` is the same file as one of `inputs` ({flag: path} or (flag, path) pairs).

    Real files are compared (os.path.samefile): symlinks, hard links and other spellings of the same
    path count as the same file, so writing the output could never replace an input.
    """
    out = os.fspath(output)
    if not os.path.exists(out):
        return
    for input_flag, item in (inputs.items() if isinstance(inputs, dict) else inputs):
        if item is not None and os.path.exists(item) and os.path.samefile(out, item):
            raise UserError(f"{flag} {out} is the same file as {input_flag} {os.fspath(item)}: writing it would "
                            f"replace the input; choose another {flag}")


def check_output_folder(path, flag: str) -> None:
    """UserError unless a folder can be made (or used) at `path`: not an existing file, and the closest
    existing folder on the way is writable. Creates nothing."""
    path = os.fspath(path)
    if os.path.lexists(path) and not os.path.isdir(path):
        raise UserError(f"{flag} {path} is an existing file, not a folder; choose another {flag}")
    _check_folder_for(path, flag, create=True)
