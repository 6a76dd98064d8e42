"""FramesDataset on real tiny clips: layouts, train/test items, id sampling, seeded split, repeats, bad input."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from dataset_media import NUM_FRAMES, place, write_format
from torch.utils.data import DataLoader

from errors import UserError
from footage import DatasetRepeater, FramesDataset, worker_init_fn
from footage.sources import FrameSource

SHAPE = (64, 64, 3)
# (split, name in the dataset, clip, format); folders are named like videos, as in FOMM's vox/taichi
LAYOUT = [
    ("train", "franck#a.mp4", "franck", "mp4"),
    ("train", "franck#b.gif", "franck", "gif"),
    ("train", "franck#c.mp4", "franck", "folder"),
    ("train", "cap#a.avi", "cap", "avi"),
    ("train", "cap#b.png", "cap", "strip"),
    ("test", "franck#t.mov", "franck", "mov"),
    ("test", "cap#t.mkv", "cap", "mkv"),
    ("test", "cap#f", "cap", "folder"),
]


@pytest.fixture
def root(media_files, tmp_path):
    for split, name, clip, fmt in LAYOUT:
        place(media_files[(clip, fmt)], tmp_path / "data" / split / name)
    return tmp_path / "data"


def clip_of(name: str) -> str:
    return name.split("#")[0]


def best_error(frame_chw: np.ndarray, clip: np.ndarray) -> float:
    """Smallest mean absolute error between a (3,H,W) frame and any frame of a uint8 clip."""
    frame = frame_chw.transpose(1, 2, 0)
    return min(float(np.abs(frame - c / 255.0).mean()) for c in clip)


def test_train_items_are_two_frames_of_the_named_video(root, clips):
    ds = FramesDataset(root, frame_shape=SHAPE, is_train=True)
    assert ds.videos == sorted(n for s, n, _, _ in LAYOUT if s == "train")
    assert len(ds) == 5
    np.random.seed(0)
    for i in range(len(ds)):
        item = ds[i]
        assert set(item) == {"driving", "source", "name"}
        assert item["name"] == ds.videos[i]
        own, other = clips[clip_of(item["name"])], clips["cap" if clip_of(item["name"]) == "franck" else "franck"]
        for key in ("driving", "source"):
            assert item[key].shape == (3, 64, 64) and item[key].dtype == np.float32
            assert best_error(item[key], own) < 0.03
            assert best_error(item[key], own) < best_error(item[key], other)


def test_train_items_decode_only_two_frames(root, monkeypatch):
    requested = []

    def no_iter(self):
        raise AssertionError("a training item must not decode the whole video")

    for kind in FrameSource.__subclasses__():
        monkeypatch.setattr(kind, "iter", no_iter)
        original = kind.read

        def spy(self, indices, _original=original):
            requested.append(len(indices))
            return _original(self, indices)

        monkeypatch.setattr(kind, "read", spy)
    ds = FramesDataset(root, frame_shape=SHAPE, is_train=True)
    for i in range(len(ds)):
        ds[i]
    assert requested == [2] * len(ds)


def test_id_sampling_draws_videos_of_one_identity(root):
    ds = FramesDataset(root, frame_shape=SHAPE, id_sampling=True, is_train=True)
    assert len(ds) == 2 and ds.identities == ["cap", "franck"]
    np.random.seed(1)
    names = {ds[1]["name"] for _ in range(30)}
    assert names == {"franck#a.mp4", "franck#b.gif", "franck#c.mp4"}
    assert {ds[0]["name"] for _ in range(20)} == {"cap#a.avi", "cap#b.png"}
    with pytest.raises(IndexError):
        ds[2]


def test_test_items_are_whole_videos_and_stream(root, clips):
    ds = FramesDataset(root, frame_shape=SHAPE, is_train=False, id_sampling=True)
    assert ds.videos == ["cap#f", "cap#t.mkv", "franck#t.mov"] and len(ds) == 3
    for i in range(len(ds)):
        item = ds[i]
        assert set(item) == {"video", "name"}
        assert item["video"].shape == (3, NUM_FRAMES, 64, 64) and item["video"].dtype == np.float32
        streamed = list(ds.iter_video(i))
        assert len(streamed) == NUM_FRAMES and streamed[0].shape == (3, 64, 64)
        np.testing.assert_allclose(np.stack(streamed, axis=1), item["video"], atol=1e-6)
        assert ds.video_path(i).endswith(item["name"])
        ref = clips[clip_of(item["name"])][7] / 255.0
        assert np.abs(item["video"][:, 7].transpose(1, 2, 0) - ref).mean() < 0.03


def test_augmentation_applies_to_training_items(media_files, clips, tmp_path):
    place(media_files[("franck", "folder")], tmp_path / "flat" / "franck#a")
    place(media_files[("franck", "folder")], tmp_path / "flat" / "franck#b")
    params = {"flip_param": {"horizontal_flip": True, "time_flip": False}}
    ds = FramesDataset(tmp_path / "flat", frame_shape=SHAPE, is_train=True, augmentation_params=params,
                       test_fraction=0.0)
    assert len(ds) == 2
    mirrored = plain = 0
    np.random.seed(3)
    for _ in range(12):
        frame = ds[0]["source"]
        mirrored += best_error(frame[:, :, ::-1].copy(), clips["franck"]) < 1e-3
        plain += best_error(frame, clips["franck"]) < 1e-3
    assert mirrored > 0 and plain > 0 and mirrored + plain == 12


def test_repeater(root):
    ds = FramesDataset(root, frame_shape=SHAPE, is_train=False)
    rep = DatasetRepeater(ds, num_repeats=3)
    assert len(rep) == 3 * len(ds)
    assert rep[len(ds) + 1]["name"] == ds[1]["name"] == rep[2 * len(ds) + 1]["name"]
    with pytest.raises(IndexError):
        rep[len(rep)]


def _flat_root(tmp_path, clips, identities=5, per_identity=2):
    """A flat root of strip videos named id<k>#<j>.png, 4 frames each (cheap to write and read)."""
    flat = tmp_path / "flat"
    flat.mkdir()
    for k in range(identities):
        for j in range(per_identity):
            frames = clips["franck" if k % 2 else "cap"][j * 4:(j + 1) * 4]
            write_format(frames, "strip", flat / f"id{k}#{j}")
    return flat


def test_seeded_split_is_deterministic_and_disjoint(tmp_path, clips):
    flat = _flat_root(tmp_path, clips)
    kw = dict(frame_shape=SHAPE, test_fraction=0.2, split_seed=4)
    train, test = FramesDataset(flat, is_train=True, **kw), FramesDataset(flat, is_train=False, **kw)
    assert len(test.videos) == 2 and len(train.videos) == 8
    assert not set(train.videos) & set(test.videos)
    assert FramesDataset(flat, is_train=True, **kw).videos == train.videos
    others = [FramesDataset(flat, is_train=False, frame_shape=SHAPE, test_fraction=0.2, split_seed=s).videos
              for s in range(5, 10)]
    assert any(o != test.videos for o in others)


def test_seeded_split_keeps_identities_on_one_side(tmp_path, clips):
    flat = _flat_root(tmp_path, clips)
    kw = dict(frame_shape=SHAPE, test_fraction=0.4, split_seed=0, id_sampling=True)
    train, test = FramesDataset(flat, is_train=True, **kw), FramesDataset(flat, is_train=False, **kw)
    train_ids = {v.split("#")[0] for v in train.videos}
    test_ids = {v.split("#")[0] for v in test.videos}
    assert len(train) == len(train.identities) == 3 and len(test_ids) == 2
    assert not train_ids & test_ids
    assert len(test) == 4 == len(test.videos)


def test_empty_and_missing_roots_raise(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="empty.*expected root_dir/train/"):
        FramesDataset(tmp_path / "empty")
    with pytest.raises(UserError, match="is not a folder"):
        FramesDataset(tmp_path / "nowhere")


def test_junk_files_raise_after_warnings(tmp_path, caplog):
    junk = tmp_path / "junk"
    junk.mkdir()
    rng = np.random.default_rng(0)
    (junk / "a.mp4").write_bytes(rng.bytes(5000))
    (junk / "b.png").write_bytes(rng.bytes(3000))
    (junk / "c.gif").write_bytes(b"GIF89a" + rng.bytes(100))
    (junk / "d").mkdir()
    (junk / "d" / "0.png").write_bytes(rng.bytes(100))
    (junk / "notes.txt").write_text("not a video")
    expected = "none of the 4 train videos in .*junk is readable"
    with caplog.at_level(logging.WARNING), pytest.raises(UserError, match=expected):
        FramesDataset(junk, test_fraction=0.0)
    warned = caplog.text
    for name in ("a.mp4", "b.png", "c.gif", "d"):
        assert name in warned


def test_one_frame_video_is_skipped_with_warning(tmp_path, media_files, clips, caplog):
    flat = tmp_path / "flat"
    place(media_files[("franck", "mp4")], flat / "franck#a.mp4")
    place(media_files[("cap", "mp4")], flat / "cap#a.mp4")
    write_format(clips["cap"][:1], "mp4", flat / "cap#single")
    with caplog.at_level(logging.WARNING):
        ds = FramesDataset(flat, frame_shape=SHAPE, is_train=True, test_fraction=0.0)
    assert ds.videos == ["cap#a.mp4", "franck#a.mp4"]
    assert "cap#single.mp4" in caplog.text and "1 frame" in caplog.text


def test_missing_split_folder_raises(tmp_path, media_files):
    place(media_files[("franck", "mp4")], tmp_path / "data" / "train" / "franck#a.mp4")
    assert len(FramesDataset(tmp_path / "data", frame_shape=SHAPE, is_train=True)) == 1
    with pytest.raises(UserError, match="no test/ folder"):
        FramesDataset(tmp_path / "data", frame_shape=SHAPE, is_train=False)


def test_worker_init_fn_seeds_numpy_from_torch():
    torch.manual_seed(123)
    worker_init_fn(0)
    drawn = np.random.rand(3)
    np.random.seed(123)
    np.testing.assert_array_equal(drawn, np.random.rand(3))


def test_dataloader_workers_draw_different_frames(root):
    ds = FramesDataset(root, frame_shape=SHAPE, is_train=True)
    single = torch.utils.data.Subset(ds, [2] * 8)  # the same folder video, 8 times
    torch.manual_seed(0)
    loader = DataLoader(single, batch_size=1, num_workers=2, worker_init_fn=worker_init_fn)
    batches = [torch.cat([b["source"], b["driving"]]) for b in loader]
    assert len(batches) == 8 and batches[0].shape == (2, 3, 64, 64)
    # items alternate between workers 0 and 1; with different seeds their sequences of draws differ
    assert not all(torch.equal(batches[i], batches[i + 1]) for i in range(0, 8, 2))


def test_jitter_ranges_from_the_config_reach_the_frames_and_bad_ones_are_one_line(tmp_path, media_files):
    place(media_files[("franck", "mp4")], tmp_path / "data" / "train" / "franck#a.mp4")
    plain = FramesDataset(tmp_path / "data", frame_shape=SHAPE, is_train=True)
    # contrast drawn from [2.5, 3]: every item is far more contrasted than the plain frames
    strong = FramesDataset(tmp_path / "data", frame_shape=SHAPE, is_train=True,
                           augmentation_params={"jitter_param": {"contrast": [2.5, 3.0]}})
    np.random.seed(0)
    a = plain[0]
    np.random.seed(0)
    b = strong[0]  # the same frame pair (the jitter draws come after the frame choice)
    assert b["source"].std() > 1.3 * a["source"].std()  # (clipped to [0, 1], so less than 2.5x)
    with pytest.raises(UserError, match=r"^dataset_params.augmentation_params: jitter_param.contrast must be a "
                                        r"number or a pair, got \(1, 2, 3\); fix it"):
        FramesDataset(tmp_path / "data", frame_shape=SHAPE, is_train=True,
                      augmentation_params={"jitter_param": {"contrast": [1, 2, 3]}})


def test_truncated_dataset_video_warns_with_frames_expected_and_read(tmp_path, media_files, caplog):
    import subprocess

    from video.reader import ffmpeg_exe

    flat = tmp_path / "flat"
    place(media_files[("franck", "mp4")], flat / "franck#a.mp4")
    whole = tmp_path / "whole.mp4"  # index at the front, as a file cut short in a download keeps it
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(media_files[("cap", "mp4")]), "-c", "copy",
                    "-movflags", "+faststart", str(whole)], check=True)
    data = whole.read_bytes()
    (flat / "cap#cut.mp4").write_bytes(data[:len(data) * 6 // 10])
    with caplog.at_level(logging.WARNING):
        ds = FramesDataset(flat, frame_shape=SHAPE, is_train=True, test_fraction=0.0)
    cut = ds.sources[ds.videos.index("cap#cut.mp4")]
    assert 2 <= cut.num_frames < NUM_FRAMES
    lines = [r.getMessage() for r in caplog.records if "cap#cut.mp4" in r.getMessage()]
    assert len(lines) == 1 and "truncated" in lines[0], caplog.text
    assert f"about {NUM_FRAMES} frames" in lines[0] and f"only {cut.num_frames} frames" in lines[0]
    assert not any("franck#a.mp4" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("damage", ["cut short", "garbage", "empty"])
def test_png_folder_with_a_corrupt_frame_is_skipped_when_the_dataset_is_built(tmp_path, media_files, damage, caplog):
    flat = tmp_path / "flat"
    place(media_files[("franck", "folder")], flat / "franck#a")
    place(media_files[("cap", "folder")], flat / "cap#a")
    bad = sorted((flat / "cap#a").iterdir())[7]
    data = bad.read_bytes()
    bad.write_bytes({"cut short": data[:len(data) // 2], "garbage": np.random.default_rng(0).bytes(len(data)),
                     "empty": b""}[damage])
    with caplog.at_level(logging.WARNING):
        ds = FramesDataset(flat, frame_shape=SHAPE, is_train=True, test_fraction=0.0)
    assert ds.videos == ["franck#a"]
    lines = [r.getMessage() for r in caplog.records if "cap#a" in r.getMessage()]
    assert len(lines) == 1 and f"frame 7 ({bad.name})" in lines[0], caplog.text
    # the checker agrees with a full decode: every kept frame decodes, the bad one does not
    from PIL import Image

    with pytest.raises(OSError):
        with Image.open(bad) as image:
            image.load()


def test_index_is_written_then_used_and_a_changed_video_is_opened_again(root, clips, monkeypatch):
    import json

    import video
    from footage import sources

    ds = FramesDataset(root, frame_shape=SHAPE, is_train=True)
    entries = json.loads((root / "index.json").read_text())["videos"]
    assert set(entries) == {f"train/{name}" for name in ds.videos}
    # every clip holds NUM_FRAMES frames, as dataset_media wrote them; the strip's count depends on the frame
    # width asked, so it is always measured again (its header is cheap)
    assert all(entries[f"train/{name}"]["num_frames"] == NUM_FRAMES for name in ds.videos)
    assert entries["train/franck#a.mp4"]["width"] == 64
    # with the index nothing is probed and no frame file is checked
    opened = []
    monkeypatch.setattr(video, "probe", lambda path: opened.append(path))
    monkeypatch.setattr(sources, "frame_file_problem", lambda path: opened.append(path))
    again = FramesDataset(root, frame_shape=SHAPE, is_train=True)
    assert opened == [] and again.videos == ds.videos
    assert [s.num_frames for s in again.sources] == [s.num_frames for s in ds.sources]
    monkeypatch.undo()
    # a video rewritten with 7 frames, and one frame of a folder rewritten in place: both opened again
    write_format(clips["cap"][:7], "mp4", root / "train" / "franck#a")
    frame = sorted((root / "train" / "franck#c.mp4").iterdir())[3]
    frame.write_bytes(frame.read_bytes()[:100])
    third = FramesDataset(root, frame_shape=SHAPE, is_train=True)
    assert third.sources[third.videos.index("franck#a.mp4")].num_frames == 7
    assert "franck#c.mp4" not in third.videos  # its damaged frame was found
    entries = json.loads((root / "index.json").read_text())["videos"]
    assert entries["train/franck#a.mp4"]["num_frames"] == 7
