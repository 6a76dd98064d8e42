"""PairedDataset: pairs from a CSV (only existing videos, in file order) or seeded random pairs."""
from __future__ import annotations

import numpy as np
import pytest
from dataset_media import NUM_FRAMES, place

from errors import UserError
from footage import FramesDataset, PairedDataset

SHAPE = (64, 64, 3)
TEST_VIDEOS = {"franck#t.mov": ("franck", "mov"), "cap#t.mp4": ("cap", "mp4"), "cap#f.mp4": ("cap", "folder")}


@pytest.fixture
def root(media_files, tmp_path):
    for name, key in TEST_VIDEOS.items():
        place(media_files[key], tmp_path / "data" / "test" / name)
    place(media_files[("cap", "strip")], tmp_path / "data" / "train" / "cap#a.png")
    return tmp_path / "data"


def write_csv(path, rows):
    path.write_text("distance,source,driving,frame\n" + "".join(f"{i}.5,{s},{d},{f}\n" for i, (s, d, f) in
                                                                enumerate(rows)))
    return path


def test_pairs_from_csv(root, tmp_path, clips):
    csv = write_csv(tmp_path / "pairs.csv", [
        ("franck#t.mov", "cap#t.mp4", 0),
        ("missing#x.mp4", "cap#t.mp4", 0),   # source not in the test set: dropped
        ("cap#f.mp4", "franck#t.mov", 5),
        ("cap#a.png", "franck#t.mov", 0),    # a train video: dropped
        ("cap#t.mp4", "cap#f.mp4", 2),
    ])
    ds = FramesDataset(root, frame_shape=SHAPE, is_train=False, pairs_list=str(csv))
    pairs = PairedDataset(ds, number_of_pairs=10)
    assert len(pairs) == 3
    assert [pairs.names(i) for i in range(3)] == [
        ("cap#t.mp4", "franck#t.mov"), ("franck#t.mov", "cap#f.mp4"), ("cap#f.mp4", "cap#t.mp4")]
    item = pairs[1]
    assert set(item) == {"driving_video", "source_video", "driving_name", "source_name"}
    assert (item["driving_name"], item["source_name"]) == ("franck#t.mov", "cap#f.mp4")
    assert item["driving_video"].shape == item["source_video"].shape == (3, NUM_FRAMES, 64, 64)
    # streaming accessors give the same frames
    np.testing.assert_allclose(np.stack(list(pairs.iter_driving(1)), axis=1), item["driving_video"], atol=1e-6)
    np.testing.assert_allclose(np.stack(list(pairs.iter_source(1)), axis=1), item["source_video"], atol=1e-6)
    assert pairs.source_frame_index(1) == 5
    np.testing.assert_allclose(pairs.source_image(1), item["source_video"][:, 5], atol=1e-6)
    assert pairs.driving_path(1).endswith("franck#t.mov") and pairs.source_path(1).endswith("cap#f.mp4")
    assert len(PairedDataset(ds, number_of_pairs=2)) == 2


def test_random_pairs_are_seeded(root):
    ds = FramesDataset(root, frame_shape=SHAPE, is_train=False)
    a, b = PairedDataset(ds, number_of_pairs=4, seed=0), PairedDataset(ds, number_of_pairs=4, seed=0)
    assert len(a) == 4 and a.pairs == b.pairs
    assert len(set(a.pairs)) == 4 and all(0 <= i < 3 and 0 <= j < 3 for i, j in a.pairs)
    others = [PairedDataset(ds, number_of_pairs=4, seed=s).pairs for s in range(1, 6)]
    assert any(o != a.pairs for o in others)
    assert len(PairedDataset(ds, number_of_pairs=100)) == 9  # all 3x3 (driving, source) pairs
    item = a[0]
    assert item["driving_name"] == ds.videos[a.pairs[0][0]] and item["source_name"] == ds.videos[a.pairs[0][1]]


def test_bad_csv_and_train_dataset(root, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    ds = FramesDataset(root, frame_shape=SHAPE, is_train=False, pairs_list=str(bad))
    with pytest.raises(UserError, match="needs at least 'source' and 'driving'"):
        PairedDataset(ds, 5)
    ds = FramesDataset(root, frame_shape=SHAPE, is_train=False, pairs_list=str(tmp_path / "none.csv"))
    with pytest.raises(UserError, match="does not exist"):
        PairedDataset(ds, 5)
    with pytest.raises(ValueError, match="test-mode"):
        PairedDataset(FramesDataset(root, frame_shape=SHAPE, is_train=True), 5)
