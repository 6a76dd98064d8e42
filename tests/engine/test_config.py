"""Tests for engine/config.py and config/*.yaml: loading, overrides, validation errors, dumping."""
import copy
import json
from pathlib import Path

import pytest
import yaml

from engine.config import SCHEMA, dump_config, load_config, schema_keys, validate_config
from errors import UserError

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"
ORIGINALS = ["vox-256", "vox-adv-256", "taichi-256", "taichi-adv-256", "mgif-256", "fashion-256",
             "nemo-256", "bair-256"]
OURS = ["golden-64", "cpu-64"]


def schema_entry(dotted):
    table, entry = SCHEMA, None
    for part in dotted.split("."):
        entry = table[part]
        table = entry[0]
    return entry


def without_defaulted_extras(loaded, reference, prefix):
    """`loaded` restricted to the keys of `reference`; every key dropped must hold its schema default."""
    out = {}
    for key, value in loaded.items():
        dotted = prefix + key
        if key not in reference:
            assert value == schema_entry(dotted)[2], f"{dotted} = {value!r} is not its default"
        elif isinstance(value, dict) and isinstance(reference[key], dict):
            out[key] = without_defaulted_extras(value, reference[key], dotted + ".")
        else:
            out[key] = value
    return out


def golden_config(golden_dir):
    text = (golden_dir / "README.md").read_text()
    tail = text[text.index("Exact main config (JSON)"):]
    config, _ = json.JSONDecoder().raw_decode(tail[tail.index("{"):])
    return config


def write_variant(tmp_path, edit, name="variant.yaml"):
    """Copy of vox-256.yaml with `edit(raw_dict)` applied; returns its path."""
    raw = yaml.safe_load((CONFIG / "vox-256.yaml").read_text())
    edit(raw)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def error_of(path, overrides=()):
    with pytest.raises(UserError) as info:
        load_config(path, overrides)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    return message


# ------------------------------------------------------------------------------------- the files


def test_every_config_file_loads_and_is_complete():
    names = sorted(p.stem for p in CONFIG.glob("*.yaml"))
    assert set(ORIGINALS + OURS) <= set(names)
    for name in names:
        path = CONFIG / f"{name}.yaml"
        assert path.read_text().startswith("# "), f"{name}.yaml lacks its header comment"
        cfg = load_config(path)
        assert list(cfg) == list(SCHEMA)
        # every key the file itself uses is in the schema, and keeps its value
        raw = yaml.safe_load(path.read_text())
        assert without_defaulted_extras(cfg, raw, "") == raw


def test_vox256_keeps_the_original_values():
    cfg = load_config(CONFIG / "vox-256.yaml")
    model = cfg["model_params"]
    assert model["common_params"] == {"num_kp": 10, "num_channels": 3, "estimate_jacobian": True,
                                      "align_corners": False}
    kp = model["kp_detector_params"]
    assert (kp["temperature"], kp["block_expansion"], kp["max_features"], kp["scale_factor"],
            kp["num_blocks"]) == (0.1, 32, 1024, 0.25, 5)
    gen = model["generator_params"]
    assert (gen["block_expansion"], gen["max_features"], gen["num_down_blocks"],
            gen["num_bottleneck_blocks"], gen["estimate_occlusion_map"]) == (64, 512, 2, 6, True)
    assert gen["dense_motion_params"] == {"block_expansion": 64, "max_features": 1024, "num_blocks": 5,
                                          "scale_factor": 0.25}
    disc = model["discriminator_params"]
    assert (disc["scales"], disc["block_expansion"], disc["max_features"], disc["num_blocks"], disc["sn"],
            disc["use_kp"]) == ([1], 32, 512, 4, True, False)

    train = cfg["train_params"]
    assert (train["num_epochs"], train["num_repeats"], train["epoch_milestones"]) == (100, 75, [60, 90])
    assert train["lr_generator"] == train["lr_discriminator"] == train["lr_kp_detector"] == 2e-4
    assert isinstance(train["lr_generator"], float)
    assert (train["batch_size"], train["scales"], train["checkpoint_freq"]) == (40, [1, 0.5, 0.25, 0.125], 50)
    assert train["transform_params"] == {"sigma_affine": 0.05, "sigma_tps": 0.005, "points_tps": 5}
    assert train["loss_weights"] == {"generator_gan": 0, "discriminator_gan": 1, "feature_matching": [10] * 4,
                                     "perceptual": [10] * 5, "equivariance_value": 10,
                                     "equivariance_jacobian": 10,
                                     "pixel_l1": 0.0, "ssim": 0.0, "mouth": 0.0}  # ours, off unless set

    data = cfg["dataset_params"]
    assert (data["root_dir"], data["frame_shape"]) == ("data/vox-png", [256, 256, 3])
    assert data["id_sampling"] is True and data["pairs_list"] == "data/vox256.csv"
    aug = data["augmentation_params"]
    assert aug["flip_param"] == {"horizontal_flip": True, "time_flip": True}
    assert aug["jitter_param"] == {"brightness": 0.1, "contrast": 0.1, "saturation": 0.1, "hue": 0.1}
    assert aug["crop_param"] is None and aug["resize_param"] is None and aug["rotation_param"] is None
    assert cfg["reconstruction_params"]["num_videos"] == 1000
    assert cfg["animate_params"]["num_pairs"] == 50
    assert cfg["animate_params"]["normalization_params"] == {
        "adapt_movement_scale": False, "use_relative_movement": True, "use_relative_jacobian": True}
    assert cfg["visualizer_params"] == {"kp_size": 5, "draw_border": True, "colormap": "gist_rainbow"}


@pytest.mark.parametrize("name, root_dir, batch_size, generator_gan, sn, use_kp", [
    ("vox-adv-256", "data/vox-png", 36, 1, False, True),
    ("taichi-256", "data/taichi-png", 30, 0, False, False),
    ("taichi-adv-256", "data/taichi-png", 27, 1, False, True),
    ("mgif-256", "data/moving-gif", 36, 1, True, False),
    ("fashion-256", "data/fashion-png", 27, 1, False, False),
    ("nemo-256", "data/nemo-png", 36, 1, True, False),
    ("bair-256", "data/bair", 36, 1, True, False),
])
def test_other_originals_keep_their_own_values(name, root_dir, batch_size, generator_gan, sn, use_kp):
    cfg = load_config(CONFIG / f"{name}.yaml")
    assert cfg["dataset_params"]["root_dir"] == root_dir
    assert cfg["train_params"]["batch_size"] == batch_size
    assert cfg["train_params"]["loss_weights"]["generator_gan"] == generator_gan
    disc = cfg["model_params"]["discriminator_params"]
    assert (disc["sn"], disc["use_kp"]) == (sn, use_kp)


def test_mgif_uses_crop_resize_and_single_jacobian_map():
    cfg = load_config(CONFIG / "mgif-256.yaml")
    aug = cfg["dataset_params"]["augmentation_params"]
    assert aug["crop_param"] == {"size": [256, 256]} and aug["resize_param"] == {"ratio": [0.9, 1.1]}
    assert aug["jitter_param"] == {"brightness": 0, "contrast": 0, "saturation": 0, "hue": 0.5}
    assert cfg["model_params"]["kp_detector_params"]["single_jacobian_map"] is True
    assert load_config(CONFIG / "taichi-adv-256.yaml")["train_params"]["lr_kp_detector"] == 0


@pytest.mark.parametrize("name", ["vox-256", "vox-adv-256"])
def test_vox_model_params_match_the_original_ground_truth(golden_dir, name):
    meta = json.loads((golden_dir / f"{name}_state_shapes.json").read_text())["_meta"]
    assert meta["config"] == f"config/{name}.yaml"
    expected = meta["model_params"]
    loaded = load_config(CONFIG / f"{name}.yaml")["model_params"]
    assert without_defaulted_extras(loaded, expected, "model_params.") == expected


def test_golden64_matches_the_reference_config(golden_dir):
    ref = golden_config(golden_dir)
    cfg = load_config(CONFIG / "golden-64.yaml")
    assert without_defaulted_extras(cfg["model_params"], ref["model_params"], "model_params.") \
        == ref["model_params"]
    for key in ("scales", "transform_params"):
        assert cfg["train_params"][key] == ref["train_params"][key], key
    assert without_defaulted_extras(cfg["train_params"]["loss_weights"], ref["train_params"]["loss_weights"],
                                    "train_params.loss_weights.") == ref["train_params"]["loss_weights"]
    assert cfg["dataset_params"]["frame_shape"] == ref["dataset_params"]["frame_shape"]
    assert cfg["animate_params"]["normalization_params"] == ref["animate_params"]["normalization_params"]
    assert cfg["dataset_params"]["root_dir"] == "data/datasets/media-64"
    assert cfg["train_params"]["vgg_weights"] == "random"


def test_cpu64_is_a_small_64px_config():
    cfg = load_config(CONFIG / "cpu-64.yaml")
    assert cfg["dataset_params"]["frame_shape"] == [64, 64, 3]
    assert cfg["dataset_params"]["root_dir"] == "data/datasets/media-64"
    assert cfg["train_params"]["scales"] == [1, 0.5, 0.25]
    assert cfg["train_params"]["vgg_weights"] == "random"
    assert cfg["train_params"]["loss_weights"]["generator_gan"] == 0
    vox = load_config(CONFIG / "vox-256.yaml")
    for section in ("kp_detector_params", "generator_params", "discriminator_params"):
        assert cfg["model_params"][section]["max_features"] < vox["model_params"][section]["max_features"]


# ------------------------------------------------------------------------------------- defaults, schema


def test_missing_optional_keys_get_defaults(tmp_path):
    def strip_to_required(raw):
        for section, keys in [("dataset_params", ["frame_shape", "id_sampling", "pairs_list",
                                                  "augmentation_params"]),
                              ("train_params", ["num_repeats", "epoch_milestones", "checkpoint_freq"])]:
            for key in keys:
                del raw[section][key]
        del raw["model_params"]["discriminator_params"]["sn"]
        for section in ("reconstruction_params", "animate_params", "visualizer_params"):
            del raw[section]

    cfg = load_config(write_variant(tmp_path, strip_to_required))
    data, train = cfg["dataset_params"], cfg["train_params"]
    assert data["frame_shape"] == [256, 256, 3] and data["pairs_list"] is None
    assert data["augmentation_params"] == {"flip_param": None, "rotation_param": None, "resize_param": None,
                                           "crop_param": None, "jitter_param": None}
    assert (data["test_fraction"], data["split_seed"]) == (0.1, 0)
    assert (train["num_repeats"], train["epoch_milestones"], train["checkpoint_freq"]) == (1, [], 50)
    assert (train["vgg_weights"], train["mixed_precision"], train["nonfinite"]) == ("imagenet", "fp32", "stop")
    assert (train["seed"], train["num_workers"], train["log_freq"], train["image_freq"],
            train["max_steps"]) == (0, 2, 50, 500, None)
    assert cfg["model_params"]["discriminator_params"]["sn"] is False
    assert cfg["model_params"]["common_params"]["align_corners"] is False
    assert cfg["reconstruction_params"] == {"num_videos": None, "format": ".mp4", "relative": False}
    assert cfg["animate_params"]["normalization_params"]["use_relative_movement"] is True
    assert cfg["visualizer_params"]["colormap"] == "gist_rainbow"
    assert cfg["stages_params"] == {}


def test_defaults_are_copies_not_shared():
    first = load_config(CONFIG / "fashion-256.yaml")
    first["train_params"]["epoch_milestones"].append(1)
    first["stages_params"]["x"] = 1
    second = load_config(CONFIG / "taichi-adv-256.yaml")
    assert second["train_params"]["epoch_milestones"] == [] and second["stages_params"] == {}
    assert schema_entry("train_params.epoch_milestones")[2] == []


def test_schema_keys_lists_sections_leaves_and_our_keys():
    keys = schema_keys()
    assert len(keys) == len(set(keys))
    for key in ("model_params", "model_params.generator_params.dense_motion_params.scale_factor",
                "dataset_params.augmentation_params.rotation_param.degrees", "train_params.vgg_weights",
                "train_params.max_steps", "dataset_params.test_fraction", "reconstruction_params.relative",
                "model_params.common_params.align_corners", "stages_params"):
        assert key in keys


def test_stages_params_takes_any_content(tmp_path):
    path = write_variant(tmp_path, lambda raw: raw.update(stages_params={"dream": {"octaves": [1, 2]}}))
    assert load_config(path)["stages_params"] == {"dream": {"octaves": [1, 2]}}


def test_validate_config_works_on_a_dict_without_mutating_it():
    raw = yaml.safe_load((CONFIG / "nemo-256.yaml").read_text())
    before = copy.deepcopy(raw)
    cfg = validate_config(raw, source="checkpoint.pth")
    assert raw == before and cfg["train_params"]["seed"] == 0
    del raw["model_params"]["common_params"]["num_kp"]
    with pytest.raises(UserError, match=r"checkpoint\.pth: missing required key 'model_params\.common_"):
        validate_config(raw, source="checkpoint.pth")


# ------------------------------------------------------------------------------------- errors


def test_misspelt_key_names_the_key_and_the_fix(tmp_path):
    def misspell(raw):
        raw["model_params"]["kp_detector_params"]["temprature"] = 0.1
        del raw["model_params"]["kp_detector_params"]["temperature"]

    path = write_variant(tmp_path, misspell)
    assert error_of(path) == (f"{path}: unknown key 'model_params.kp_detector_params.temprature' "
                              "(did you mean 'temperature'?)")
    path = write_variant(tmp_path, lambda raw: raw.update(trian_params={}), "top.yaml")
    assert "unknown key 'trian_params' (did you mean 'train_params'?)" in error_of(path)


@pytest.mark.parametrize("dotted, value, expected", [
    ("train_params.batch_size", "40x", "'train_params.batch_size' must be an int, got str '40x'"),
    ("train_params.batch_size", 40.0, "'train_params.batch_size' must be an int, got float 40.0"),
    ("model_params.common_params.num_kp", True, "'model_params.common_params.num_kp' must be an int, got b"),
    ("train_params.lr_generator", "fast", "'train_params.lr_generator' must be a number, got str 'fast'"),
    ("model_params.common_params.estimate_jacobian", 1, "must be a bool"),
    ("train_params.scales", [1, "half"], "'train_params.scales' must be a list of numbers"),
    ("model_params.generator_params", 3, "'model_params.generator_params' must be a mapping, got int 3"),
    ("train_params.mixed_precision", "fp16", "'train_params.mixed_precision' must be one of 'fp32', 'bf16'"),
    ("train_params.nonfinite", "ignore", "'train_params.nonfinite' must be one of 'stop', 'skip'"),
    ("train_params.num_epochs", None, "'train_params.num_epochs' must be an int, got null"),
    ("dataset_params.augmentation_params.jitter_param.contrast", "strong",
     "'dataset_params.augmentation_params.jitter_param.contrast' must be a number or a list of numbers"),
])
def test_wrong_type_is_an_error(tmp_path, dotted, value, expected):
    def set_value(raw):
        *parents, last = dotted.split(".")
        node = raw
        for part in parents:
            node = node[part]
        node[last] = value

    assert expected in error_of(write_variant(tmp_path, set_value))


def test_int_is_accepted_where_a_float_is_expected(tmp_path):
    path = write_variant(tmp_path, lambda raw: raw["train_params"].update(lr_generator=1, max_steps=None))
    cfg = load_config(path)
    assert cfg["train_params"]["lr_generator"] == 1 and cfg["train_params"]["max_steps"] is None


def test_missing_required_key_is_an_error(tmp_path):
    path = write_variant(tmp_path, lambda raw: raw["model_params"]["common_params"].pop("num_kp"))
    assert error_of(path) == f"{path}: missing required key 'model_params.common_params.num_kp'"
    path = write_variant(tmp_path, lambda raw: raw.pop("train_params"), "no_train.yaml")
    assert "missing required key 'train_params'" in error_of(path)
    path = write_variant(tmp_path, lambda raw: raw["dataset_params"]["augmentation_params"].update(
        crop_param={}), "crop.yaml")
    assert "missing required key 'dataset_params.augmentation_params.crop_param.size'" in error_of(path)


def test_missing_empty_unparsable_or_duplicate_yaml_is_an_error(tmp_path):
    assert "not found" in error_of(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("train_params:\n  scales: [1, 0.5\n")
    assert "not valid YAML" in error_of(broken)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    assert "empty" in error_of(empty)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    assert "must be a mapping" in error_of(listing)
    dup = tmp_path / "dup.yaml"
    dup.write_text((CONFIG / "vox-256.yaml").read_text().replace("  num_epochs: 100\n",
                                                                 "  num_epochs: 100\n  num_epochs: 3\n"))
    assert "duplicate key 'num_epochs'" in error_of(dup)


# ------------------------------------------------------------------------------------- overrides


def test_overrides_change_values_and_keep_the_file(tmp_path):
    path = write_variant(tmp_path, lambda raw: None)
    before = path.read_text()
    cfg = load_config(path, ["train_params.num_epochs=3", "dataset_params.root_dir=/data/x",
                             "train_params.scales=[1,0.5]", "train_params.lr_generator=1e-4",
                             "train_params.max_steps=null", "stages_params.depth.model=small",
                             "dataset_params.augmentation_params.rotation_param.degrees=[-5, 5]",
                             "dataset_params.augmentation_params.jitter_param.contrast=[0.7,2.8]"])
    assert cfg["train_params"]["num_epochs"] == 3
    assert cfg["dataset_params"]["root_dir"] == "/data/x"
    assert cfg["train_params"]["scales"] == [1, 0.5]
    assert cfg["train_params"]["lr_generator"] == 1e-4
    assert cfg["stages_params"] == {"depth": {"model": "small"}}
    assert cfg["dataset_params"]["augmentation_params"]["rotation_param"] == {"degrees": [-5, 5]}
    # a [low, high] jitter range, as footage.augmentation.ColorJitter takes it
    assert cfg["dataset_params"]["augmentation_params"]["jitter_param"]["contrast"] == [0.7, 2.8]
    assert path.read_text() == before
    assert load_config(path)["train_params"]["num_epochs"] == 100


def test_unknown_override_lists_close_matches(tmp_path):
    path = CONFIG / "vox-256.yaml"
    message = error_of(path, ["model_params.kp_detector_params.temprature=0.2"])
    assert message == (f"{path}: unknown override key 'model_params.kp_detector_params.temprature' "
                       "(did you mean 'model_params.kp_detector_params.temperature'?)")
    assert "did you mean 'train_params.num_epochs'" in error_of(path, ["num_epochs=3"])
    assert "'train_params.num_epochs' is a value" in error_of(path, ["train_params.num_epochs.x=3"])


@pytest.mark.parametrize("override, expected", [
    ("train_params.num_epochs", "bad override 'train_params.num_epochs': expected dotted.key=value"),
    ("=3", "bad override '=3'"),
    ("train_params.scales=[1, 0.5", "bad override 'train_params.scales=[1, 0.5': the value is not valid"),
    ("train_params.batch_size=40x", "'train_params.batch_size' must be an int, got str '40x' "
                                    "(set by override 'train_params.batch_size=40x')"),
    ("train_params.mixed_precision=fp16", "must be one of 'fp32', 'bf16'"),
])
def test_bad_override_is_an_error(override, expected):
    assert expected in error_of(CONFIG / "vox-256.yaml", [override])


# ------------------------------------------------------------------------------------- dumping


def test_dump_config_round_trips_atomically(tmp_path):
    cfg = load_config(CONFIG / "mgif-256.yaml", ["train_params.lr_generator=1e-5"])
    out = tmp_path / "saved.yaml"
    dump_config(cfg, out)
    assert load_config(out) == cfg
    assert "frame_shape: [256, 256, 3]" in out.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["saved.yaml"]

    before = out.read_text()
    with pytest.raises(yaml.YAMLError):
        dump_config({"bad": object()}, out)
    assert out.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["saved.yaml"]
    with pytest.raises(UserError, match="cannot write config"):
        dump_config(cfg, tmp_path / "no" / "such" / "dir.yaml")
