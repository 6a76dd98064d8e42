"""atomic.py: a write that dies at any moment leaves the previous file or the new one, never a partial one."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from atomic import TEMP_SUFFIX, atomic_open, atomic_write_text, current_umask, reserve_temp_path
from tests.conftest import ROOT


def test_replaces_the_file_with_the_usual_permissions(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert (path.stat().st_mode & 0o777) == 0o666 & ~current_umask()
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_an_error_mid_write_keeps_the_previous_file_and_no_temp(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"complete")
    with pytest.raises(RuntimeError), atomic_open(path) as f:
        f.write(b"part")
        raise RuntimeError("interrupted")
    assert path.read_bytes() == b"complete"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_sigkill_mid_write_keeps_the_previous_file(tmp_path):
    """The property the training test once checked with a whole training killed mid-checkpoint: a process
    killed while writing (no cleanup can run) leaves the old file intact and only a hidden temp file."""
    path = tmp_path / "last-checkpoint.pth.tar"
    path.write_bytes(b"the complete previous checkpoint")
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from atomic import atomic_open
        with atomic_open({str(path)!r}) as f:
            f.write(b"partial" * 1000)
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert path.read_bytes() == b"the complete previous checkpoint"
    left = [p.name for p in tmp_path.iterdir() if p != path]
    assert len(left) == 1 and left[0].startswith(".last-checkpoint.pth.tar.") and left[0].endswith(TEMP_SUFFIX)


def test_reserve_temp_path_keeps_the_extension_and_never_reuses_a_name(tmp_path):
    target = tmp_path / "out.mp4"
    a, b = reserve_temp_path(target), reserve_temp_path(target)
    assert a != b and all(os.path.exists(p) for p in (a, b))
    assert os.path.basename(a).startswith(".out.mp4.") and a.endswith(".part.mp4")
    assert (os.stat(a).st_mode & 0o777) == 0o666 & ~current_umask()
