"""Source personalisation: seeded and deterministic, the loaded checkpoint untouched, the saved file reloads."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

import demo
from engine.animate import Animator
from engine.inference import load_model
from engine.personalize import PersonalizeOptions, personalize, save_personalized, training_frames
from faces import get_backend
from faces.follow import source_face_box
from tests.conftest import write_random_checkpoint
from video import VideoWriter, iter_frames, load_image

FAST = PersonalizeOptions(steps=3, batch_size=2, frames=8, mouth=0.1)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _weights(net) -> dict:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, media_dir):
    """A random-weight golden-64 checkpoint, a real photo, its crop box, and a 4-frame real driving clip."""
    folder = tmp_path_factory.mktemp("personalize")
    checkpoint = folder / "model.pth.tar"
    write_random_checkpoint(checkpoint)
    photo = load_image(media_dir / "audrey.jpg")
    box = source_face_box(photo, get_backend("auto", landmarks=False), 1.8)
    driving = folder / "driving.mp4"
    with VideoWriter(driving, fps=25) as writer:
        for k, frame in enumerate(iter_frames(media_dir / "WolfgangLanger_Pexels.mp4")):
            if k == 4:
                break
            writer.write(frame)
    return folder, checkpoint, photo, box, driving


def _animate(model, photo, box, driving_frames) -> np.ndarray:
    from faces.crop import crop_resize

    animator = Animator(model, batch_size=4)
    animator.set_source(crop_resize(photo, box, 64))
    return np.stack([f.image for f in animator.run(driving_frames)])


def test_training_frames_open_the_mouth_and_mark_it(setup):
    _, _, photo, box, _ = setup
    frames, masks, still, found = training_frames(photo, box, 64, FAST)
    assert found and frames.shape == (8, 64, 64, 3) and masks.shape == (8, 1, 64, 64)
    assert still.shape == (64, 64, 3) and frames.dtype == np.float32
    assert (masks.sum((1, 2, 3)) > 0).sum() >= 6  # dlib finds the mouth in (nearly) every 64 px frame
    # the mask sits in the lower half, where the mouth is
    assert masks[:, 0, :32].sum() < 0.1 * masks.sum()


def test_seeded_deterministic_and_the_loaded_model_untouched(setup):
    _, checkpoint, photo, box, _ = setup
    digest = _sha(checkpoint)
    model = load_model(checkpoint, device="cpu")
    before_g, before_kp = _weights(model.networks.generator), _weights(model.networks.kp_detector)
    one = personalize(model, photo, box, FAST, progress=False)
    two = personalize(model, photo, box, FAST, progress=False)
    other = personalize(model, photo, box, PersonalizeOptions(**{**FAST.__dict__, "seed": 1}), progress=False)
    assert _same(_weights(one.networks.generator), _weights(two.networks.generator))
    assert not _same(_weights(one.networks.generator), _weights(other.networks.generator))
    tuned = _weights(one.networks.generator)
    assert not _same(tuned, before_g)
    # the dense-motion network is tuned too by default
    assert any(not torch.equal(tuned[k], before_g[k]) for k in tuned if k.startswith("dense_motion_network."))
    # the loaded model in memory and the file on disk are as they were
    assert _same(_weights(model.networks.generator), before_g)
    assert _same(_weights(model.networks.kp_detector), before_kp)
    assert _sha(checkpoint) == digest
    # dense_motion=False: the generator's own layers move, the dense-motion network stays as it was
    own = personalize(model, photo, box, PersonalizeOptions(**{**FAST.__dict__, "dense_motion": False}),
                      progress=False)
    moved = _weights(own.networks.generator)
    assert not _same(moved, before_g)
    assert all(torch.equal(moved[k], before_g[k]) for k in moved if k.startswith("dense_motion_network."))


def test_the_saved_file_reloads_and_animates_the_same(setup, tmp_path):
    _, checkpoint, photo, box, driving = setup
    model = load_model(checkpoint, device="cpu")
    tuned = personalize(model, photo, box, FAST, progress=False)
    path = tmp_path / "me.pth.tar"
    save_personalized(tuned, path, FAST)
    again = load_model(path, device="cpu")  # no --config needed: it is stored
    frames = list(iter_frames(driving))
    expected = _animate(tuned, photo, box, frames)
    assert np.array_equal(_animate(again, photo, box, frames), expected)
    assert not np.allclose(_animate(model, photo, box, frames), expected, atol=1e-3)  # it did change the result
    assert [p.name for p in tmp_path.iterdir()] == ["me.pth.tar"]  # nothing left beside it


def test_demo_personalize_and_save(setup, media_dir, tmp_path, capsys):
    folder, checkpoint, _, _, driving = setup
    digest = _sha(checkpoint)
    source = str(media_dir / "audrey.jpg")
    common = ["--source", source, "--driving", str(driving), "--checkpoint", str(checkpoint), "--device", "cpu"]
    saved = tmp_path / "audrey.pth.tar"
    assert demo.main([*common, "--result_video", str(tmp_path / "a.mp4"), "--personalize", "2",
                      "--save_personalized", str(saved)]) == 0
    assert saved.is_file() and _sha(checkpoint) == digest
    out = capsys.readouterr().err
    assert "personalised the generator on the source photo: 2 steps" in out
    # the saved model animates the photo as the personalised run did, without personalising again
    assert demo.main([*common[:4], "--checkpoint", str(saved), "--device", "cpu",
                      "--result_video", str(tmp_path / "b.mp4")]) == 0
    a = np.stack(list(iter_frames(tmp_path / "a.mp4")))
    b = np.stack(list(iter_frames(tmp_path / "b.mp4")))
    assert a.shape == b.shape and np.array_equal(a, b)
    assert "personalised" not in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--personalize", "1", "--save_personalized", "{checkpoint}"],
     "--save_personalized {checkpoint} is the same file as --checkpoint"),
    (["--save_personalized", "{tmp}/x.pth.tar"], "--save_personalized writes the model --personalize N makes"),
    (["--personalize", "1", "--save_personalized", "{tmp}/no/such/folder/x.pth.tar"], "does not exist"),
])
def test_bad_save_paths_are_one_line_and_write_nothing(setup, media_dir, tmp_path, capsys, extra, message):
    _, checkpoint, _, _, driving = setup
    digest = _sha(checkpoint)
    fill = {"checkpoint": str(checkpoint), "tmp": str(tmp_path)}
    argv = ["--source", str(media_dir / "audrey.jpg"), "--driving", str(driving),
            "--checkpoint", str(checkpoint), "--device", "cpu", "--result_video", str(tmp_path / "r.mp4"),
            *[e.format(**fill) for e in extra]]
    assert demo.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message.format(**fill) in err[0], err
    assert _sha(checkpoint) == digest and list(tmp_path.iterdir()) == []
