"""Published-checkpoint compatibility: vox-256 keys/shapes, original-format files, clear mismatch errors."""
import json

import pytest
import torch
import yaml

from engine.build import build_networks, state_shapes
from engine.checkpoint import load_networks, read_checkpoint, save_checkpoint
from errors import UserError
from tests.conftest import GOLDEN, ROOT


def model_params(name):
    with open(ROOT / "config" / f"{name}.yaml") as f:
        return yaml.safe_load(f)["model_params"]


@pytest.mark.parametrize("name", ["vox-256", "vox-adv-256"])
def test_networks_from_config_have_the_published_keys_and_shapes(name):
    ref = json.loads((GOLDEN / f"{name}_state_shapes.json").read_text())
    ours = state_shapes(model_params(name))
    for net in ("kp_detector", "generator", "discriminator"):
        assert ours[net] == ref[net], f"{name} {net}: differs in {set(ours[net]) ^ set(ref[net])}"


def original_format(nets, with_discriminator=True):
    """A checkpoint laid out exactly as the original FOMM's Logger.save_cpk writes it."""
    state = {"kp_detector": nets.kp_detector.state_dict(), "generator": nets.generator.state_dict(), "epoch": 99}
    for name, net in nets.items():
        opt = torch.optim.Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.999))
        state[f"optimizer_{name}"] = opt.state_dict()
    if with_discriminator:
        state["discriminator"] = nets.discriminator.state_dict()
    return state


def test_original_format_vox256_checkpoint_loads_and_runs(tmp_path):
    params = model_params("vox-256")
    torch.manual_seed(0)
    src = build_networks(params)
    with torch.no_grad():  # make the weights distinguishable from a fresh init
        for p in src.kp_detector.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = tmp_path / "vox-cpk.pth.tar"
    torch.save(original_format(src), path)

    torch.manual_seed(1)
    dst = build_networks(params)
    state = load_networks(path, dst, config_path="config/vox-256.yaml")
    assert state["epoch"] == 99
    for name, net in dst.items():
        for k, v in net.state_dict().items():
            assert torch.equal(v, getattr(src, name).state_dict()[k]), f"{name}.{k} not loaded"
    dst.kp_detector.eval()
    dst.generator.eval()
    image = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        kp = dst.kp_detector(image)
        out = dst.generator(image, kp_source=kp, kp_driving=kp)
    assert kp["value"].shape == (1, 10, 2) and kp["jacobian"].shape == (1, 10, 2, 2)
    assert out["prediction"].shape == (1, 3, 128, 128)
    assert torch.isfinite(out["prediction"]).all()


def test_checkpoint_without_discriminator_loads(tmp_path):
    torch.manual_seed(0)
    nets = build_networks(model_params("golden-64"))
    path = tmp_path / "inference.pth"
    torch.save(original_format(nets, with_discriminator=False), path)
    torch.manual_seed(1)  # another init, so that only a real load makes the weights equal
    dst = build_networks(model_params("golden-64"))
    fresh_discriminator = {k: v.clone() for k, v in dst.discriminator.state_dict().items()}
    state = load_networks(path, dst)
    assert "discriminator" not in state
    for name in ("kp_detector", "generator"):
        for k, v in getattr(dst, name).state_dict().items():
            assert torch.equal(v, getattr(nets, name).state_dict()[k]), f"{name}.{k} not loaded"
    for k, v in dst.discriminator.state_dict().items():
        assert torch.equal(v, fresh_discriminator[k]), f"discriminator.{k} changed without weights to load"


def _checkpoint_missing_one_key_with_one_extra(path):
    """An original-format golden-64 checkpoint at `path` without generator final.bias and with an unknown
    extra.weight; returns the networks it was saved from."""
    nets = build_networks(model_params("golden-64"))
    state = original_format(nets)
    state["generator"].pop("final.bias")
    state["generator"]["extra.weight"] = torch.zeros(1)
    torch.save(state, path)
    return nets


def test_strict_false_loads_what_matches_and_warns_about_the_rest(tmp_path, caplog):
    torch.manual_seed(0)
    path = tmp_path / "partial.pth"
    nets = _checkpoint_missing_one_key_with_one_extra(path)
    torch.manual_seed(1)
    dst = build_networks(model_params("golden-64"))
    fresh_bias = dst.generator.final.bias.detach().clone()
    with caplog.at_level("WARNING", logger="engine.checkpoint"):
        load_networks(path, dst, strict=False)
    assert "final.bias" in caplog.text and "extra.weight" in caplog.text
    assert torch.equal(dst.generator.final.weight, nets.generator.final.weight)
    assert torch.equal(dst.generator.final.bias, fresh_bias)
    with pytest.raises(UserError, match="1 missing keys"):  # strict (the default) still refuses it
        load_networks(path, build_networks(model_params("golden-64")))


def test_checkpoint_for_another_config_names_the_config_that_fits(tmp_path):
    nets = build_networks(model_params("golden-64"))
    path = tmp_path / "small.pth"
    torch.save(original_format(nets), path)
    with pytest.raises(UserError) as err:
        load_networks(path, build_networks(model_params("cpu-64")), config_path=str(ROOT / "config/cpu-64.yaml"))
    msg = str(err.value)
    assert "\n" not in msg
    assert "does not fit" in msg and "shape mismatches" in msg
    assert "config/golden-64.yaml" in msg


def test_missing_and_unexpected_keys_are_listed(tmp_path):
    path = tmp_path / "broken.pth"
    _checkpoint_missing_one_key_with_one_extra(path)
    with pytest.raises(UserError, match=r"1 missing keys \(final.bias\).*1 unexpected keys \(extra.weight\)"):
        load_networks(path, build_networks(model_params("golden-64")))


def test_unreadable_and_foreign_files_are_clear_errors(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot read checkpoint"):
        read_checkpoint(junk)
    other = tmp_path / "other.pth"
    torch.save({"model": {}}, other)
    with pytest.raises(UserError, match="not a FOMM checkpoint"):
        read_checkpoint(other)
    with pytest.raises(UserError, match="not found"):
        read_checkpoint(tmp_path / "absent.pth")


def test_save_is_atomic_and_keeps_previous_file_on_failure(tmp_path):
    path = tmp_path / "ckpt.pth"
    save_checkpoint(path, {"generator": {"w": torch.ones(2)}})

    class Boom:
        def __reduce__(self):
            raise RuntimeError("interrupted mid-write")

    with pytest.raises(RuntimeError):
        save_checkpoint(path, {"generator": {"w": torch.zeros(2)}, "bad": Boom()})
    assert torch.equal(torch.load(path, weights_only=True)["generator"]["w"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pth"]


def test_export_keeps_inference_weights_and_config_and_loads_without_config(tmp_path, monkeypatch):
    from engine.config import load_config
    from engine.export import export
    from engine.inference import load_model

    cfg = load_config(ROOT / "config/golden-64.yaml")
    nets = build_networks(cfg["model_params"])
    state = original_format(nets)
    state["stillmotion"] = {"version": 1, "step": 7, "config": cfg, "rng": {"torch": torch.get_rng_state()}}
    save_checkpoint(tmp_path / "train.pth.tar", state)
    export(tmp_path / "train.pth.tar", tmp_path / "model.pth.tar")
    slim = read_checkpoint(tmp_path / "model.pth.tar")
    assert set(slim) == {"kp_detector", "generator", "epoch", "stillmotion"}
    assert set(slim["stillmotion"]) == {"version", "step", "config"}
    reads = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: reads.append(a[0]) or real_load(*a, **k))
    model = load_model(tmp_path / "model.pth.tar", device="cpu")
    assert len(reads) == 1  # the stored config and the weights come from one read
    monkeypatch.undo()
    for k, v in model.networks.generator.state_dict().items():
        assert torch.equal(v, nets.generator.state_dict()[k])
    with pytest.raises(UserError, match="carries no config"):
        load_model(_without_config(tmp_path, nets), device="cpu")


def _without_config(tmp_path, nets):
    path = tmp_path / "fomm.pth.tar"
    torch.save(original_format(nets), path)
    return path
