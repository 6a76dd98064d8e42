"""demo.py and stylize.py refuse an output that is one of their inputs (same real file), before any work."""
import os

import pytest

import demo
import stylize
from tests.test_demo import ffmpeg


@pytest.fixture(scope="module")
def clip(tmp_path_factory, media_dir):
    folder = tmp_path_factory.mktemp("overwrite")
    path = folder / "driving.mp4"
    ffmpeg("-i", media_dir / "WolfgangLanger_Pexels.mp4", "-t", 0.3, "-c:v", "libx264", "-c:a", "aac", path)
    return path


def spellings(path, tmp_path):
    """The same file named four ways: as is, through ./.., through a symlink, through a hard link."""
    link = tmp_path / "link.mp4"
    link.symlink_to(path)
    hard = tmp_path / "hard.mp4"
    os.link(path, hard)
    return {"same path": str(path), "other spelling": f"{path.parent}/./../{path.parent.name}/{path.name}",
            "symlink": str(link), "hard link": str(hard)}


@pytest.mark.parametrize("how", ["same path", "other spelling", "symlink", "hard link"])
def test_demo_refuses_result_video_equal_to_driving(clip, media_dir, tmp_path, capsys, how):
    before = clip.read_bytes()
    output = spellings(clip, tmp_path)[how]
    code = demo.main(["--source", str(media_dir / "audrey.jpg"), "--driving", str(clip), "--result_video", output,
                      "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "is the same file as --driving" in err[0] and "choose another --result_video" in err[0]
    assert clip.read_bytes() == before


def test_demo_refuses_result_video_equal_to_source(clip, tmp_path, capsys):
    photo = tmp_path / "photo.mp4"  # a source photo under a video name: still never overwritten
    photo.write_bytes(b"not really a photo")
    code = demo.main(["--source", str(photo), "--driving", str(clip), "--result_video", str(photo)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "is the same file as --source" in err[0]
    assert photo.read_bytes() == b"not really a photo"


@pytest.mark.parametrize("how", ["same path", "symlink"])
def test_stylize_refuses_output_equal_to_input(clip, tmp_path, capsys, how):
    before = clip.read_bytes()
    output = spellings(clip, tmp_path)[how]
    code = stylize.main(["--input", str(clip), "--stages", "depth", "--output", output])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "--output" in err[0] and "same file as --input" in err[0]
    assert clip.read_bytes() == before
