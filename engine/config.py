"""YAML run configs: load, apply dotted overrides, validate against one schema table, fill defaults, dump."""
import copy
import difflib
import math
import re
from pathlib import Path

import yaml

from atomic import atomic_write_text
from errors import UserError

# ---------------------------------------------------------------------------------------------------
# The schema: one nested table. Every entry is  key: (spec, required, default[, choices or Range])  where
# a Range bounds the number (or every number of a list), and NaN or infinity is refused everywhere; spec is
#   int | float | bool | str | dict   a plain type; float accepts int, no numeric type accepts bool,
#                                     `dict` is a free-form mapping whose content is not checked
#   [T]                               a list whose items all match T
#   None                              YAML null
#   (A, B, ...)                       any of the alternatives
#   {key: entry, ...}                 a nested section, checked with the same rules
# A missing optional key gets a deep copy of its default (an optional section whose default is {} is
# filled in turn, so its own defaults appear). An explicit null is accepted where None is one of the
# alternatives or the default is None, and for an optional section it means "not given".
# Keys marked "ours" do not exist in the original FOMM configs.
# ---------------------------------------------------------------------------------------------------

class Range:
    """The bounds of a number (or of every number in a list) in a schema entry: Range(1) is ">= 1",
    Range(0, 1, high_open=True) is "in [0, 1)", Range(0, low_open=True) is "> 0"."""

    def __init__(self, low=None, high=None, low_open=False, high_open=False):
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def holds(self, x) -> bool:
        if self.low is not None and (x <= self.low if self.low_open else x < self.low):
            return False
        return self.high is None or (x < self.high if self.high_open else x <= self.high)

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {self.high}"
        return f"in {'(' if self.low_open else '['}{self.low}, {self.high}{')' if self.high_open else ']'}"


POSITIVE = Range(1)  # counts and sizes
NON_NEGATIVE = Range(0)  # weights, rates, counts that may be 0
FRACTION = Range(0, 1, low_open=True)  # scale factors

_FLIP = {
    "horizontal_flip": (bool, False, False),
    "time_flip": (bool, False, False),
}
# each: v (factors from [1 - v, 1 + v]; hue from [-v, v]) or a [low, high] pair (footage.augmentation.ColorJitter)
_JITTER = {
    "brightness": ((float, [float]), False, 0, NON_NEGATIVE),
    "contrast": ((float, [float]), False, 0, NON_NEGATIVE),
    "saturation": ((float, [float]), False, 0, NON_NEGATIVE),
    "hue": ((float, [float]), False, 0),
}

SCHEMA = {
    "dataset_params": ({
        "root_dir": (str, True, None),
        "frame_shape": ([int], False, [256, 256, 3], POSITIVE),
        "id_sampling": (bool, False, False),
        "pairs_list": ((str, None), False, None),
        "augmentation_params": ({
            # each transform is off when its section is absent (null)
            "flip_param": (_FLIP, False, None),
            "rotation_param": ({"degrees": ((float, [float]), True, None)}, False, None),
            "resize_param": ({"ratio": ([float], True, None, Range(0, low_open=True))}, False, None),
            "crop_param": ({"size": ([int], True, None, POSITIVE)}, False, None),
            "jitter_param": (_JITTER, False, None),
        }, False, {}),
        # ours: held-out share when root_dir has no train/ and test/
        "test_fraction": (float, False, 0.1, Range(0, 1, high_open=True)),
        "split_seed": (int, False, 0),  # ours: seed of that split
    }, True, None),
    "model_params": ({
        "common_params": ({
            "num_kp": (int, True, None, POSITIVE),
            "num_channels": (int, True, None, POSITIVE),
            "estimate_jacobian": (bool, False, False),
            "align_corners": (bool, False, False),  # ours: grid_sample convention (False = torch >= 1.3)
        }, True, None),
        "kp_detector_params": ({
            "temperature": (float, True, None, Range(0, low_open=True)),
            "block_expansion": (int, True, None, POSITIVE),
            "max_features": (int, True, None, POSITIVE),
            "scale_factor": (float, False, 1, FRACTION),
            "num_blocks": (int, True, None, POSITIVE),
            "single_jacobian_map": (bool, False, False),
            "pad": (int, False, 0, NON_NEGATIVE),
        }, True, None),
        "generator_params": ({
            "block_expansion": (int, True, None, POSITIVE),
            "max_features": (int, True, None, POSITIVE),
            "num_down_blocks": (int, True, None, NON_NEGATIVE),
            "num_bottleneck_blocks": (int, True, None, NON_NEGATIVE),
            "estimate_occlusion_map": (bool, False, False),
            "dense_motion_params": ({
                "block_expansion": (int, True, None, POSITIVE),
                "max_features": (int, True, None, POSITIVE),
                "num_blocks": (int, True, None, POSITIVE),
                "scale_factor": (float, False, 1, FRACTION),
            }, True, None),
        }, True, None),
        "discriminator_params": ({
            "scales": ([float], True, None, FRACTION),
            "block_expansion": (int, True, None, POSITIVE),
            "max_features": (int, True, None, POSITIVE),
            "num_blocks": (int, True, None, POSITIVE),
            "sn": (bool, False, False),
            "use_kp": (bool, False, False),
        }, True, None),
    }, True, None),
    "train_params": ({
        "num_epochs": (int, True, None, POSITIVE),
        "num_repeats": (int, False, 1, POSITIVE),
        "epoch_milestones": ([int], False, [], POSITIVE),
        "lr_generator": (float, True, None, NON_NEGATIVE),
        "lr_discriminator": (float, True, None, NON_NEGATIVE),
        "lr_kp_detector": (float, True, None, NON_NEGATIVE),
        "batch_size": (int, True, None, POSITIVE),
        "scales": ([float], True, None, FRACTION),
        "checkpoint_freq": (int, False, 50, POSITIVE),
        "transform_params": ({
            "sigma_affine": (float, True, None, NON_NEGATIVE),
            "sigma_tps": (float, True, None, NON_NEGATIVE),
            "points_tps": (int, True, None, POSITIVE),
        }, True, None),
        "loss_weights": ({
            "generator_gan": (float, True, None, NON_NEGATIVE),
            "discriminator_gan": (float, True, None, NON_NEGATIVE),
            "feature_matching": ([float], True, None, NON_NEGATIVE),
            "perceptual": ([float], True, None, NON_NEGATIVE),
            "equivariance_value": (float, True, None, NON_NEGATIVE),
            "equivariance_jacobian": (float, True, None, NON_NEGATIVE),
            # ours: pixel pyramid losses (an offline alternative or complement to the VGG perceptual loss)
            "pixel_l1": (float, False, 0.0, NON_NEGATIVE),  # L1 of the frames, summed over train_params.scales
            "ssim": (float, False, 0.0, NON_NEGATIVE),  # 1 - SSIM of the frames, summed over train_params.scales
            # L1 inside the driving frame's mouth region (landmark files: preprocess.py --landmarks),
            # per pixel of the region, summed over train_params.scales
            "mouth": (float, False, 0.0, NON_NEGATIVE),
        }, True, None),
        # ours from here on
        "vgg_weights": (str, False, "imagenet"),  # "imagenet", "random", "auto" or a path to a .pth file
        # "vgg19", or a trained stillmotion checkpoint whose frozen generator encoder gives the features
        "perceptual_network": (str, False, "vgg19"),
        "mixed_precision": (str, False, "fp32", ("fp32", "bf16")),
        "nonfinite": (str, False, "stop", ("stop", "skip")),  # what to do on a NaN/inf loss
        "seed": (int, False, 0),
        "num_workers": (int, False, 2, NON_NEGATIVE),
        "log_freq": (int, False, 50, POSITIVE),  # steps between scalar logs
        "image_freq": (int, False, 500, POSITIVE),  # steps between logged images
        "max_steps": ((int, None), False, None, POSITIVE),  # stop after this many steps (smoke runs)
    }, True, None),
    "reconstruction_params": ({
        "num_videos": ((int, None), False, None, POSITIVE),  # null: every test video
        "format": (str, False, ".mp4"),
        "relative": (bool, False, False),  # ours: drive with relative keypoint motion
    }, False, {}),
    "animate_params": ({
        "num_pairs": (int, False, 50, POSITIVE),
        "format": (str, False, ".mp4"),
        # defaults follow what every original config sets, not the original function defaults
        "normalization_params": ({
            "adapt_movement_scale": (bool, False, False),
            "use_relative_movement": (bool, False, True),
            "use_relative_jacobian": (bool, False, True),
        }, False, {}),
    }, False, {}),
    "visualizer_params": ({
        "kp_size": (int, False, 5, POSITIVE),
        "draw_border": (bool, False, True),
        "colormap": (str, False, "gist_rainbow"),
    }, False, {}),
    "stages_params": (dict, False, {}),  # ours: checked by the stages package, any content here
}


def schema_keys() -> list[str]:
    """Every dotted key of SCHEMA (sections and leaves), in table order."""
    out = []

    def walk(table, prefix):
        for key, entry in table.items():
            out.append(prefix + key)
            if isinstance(entry[0], dict):
                walk(entry[0], prefix + key + ".")

    walk(SCHEMA, "")
    return out


# ------------------------------------------------------------------------------------- YAML reading


class _Loader(yaml.SafeLoader):
    """Safe loader that also reads 1e-4 as a float and refuses duplicate keys."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 wants a dot and a signed exponent ("2.0e-4"); accept "2e-4" and "1.0e4" as floats too.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _yaml_problem(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


def _read_yaml(path: Path):
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a config file; pass a .yaml file, e.g. config/vox-256.yaml")
    if not path.is_file():
        raise UserError(f"{path}: config file not found; pass an existing .yaml, e.g. config/vox-256.yaml")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read config file ({err}); check the path and permissions") from None
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML: {_yaml_problem(err)}") from None


# ------------------------------------------------------------------------------------- validation


class _Context:
    """Where a config came from, to name it (and any override behind a bad value) in error messages."""

    def __init__(self, source: str, overrides: dict[str, str] | None = None):
        self.source = source
        self.overrides = overrides or {}

    def fail(self, dotted: str, problem: str):
        for key, text in self.overrides.items():
            if dotted == key or dotted.startswith(key + "."):
                problem += f" (set by override '{text}')"
                break
        raise UserError(f"{self.source}: {problem}")


def _article(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _describe(spec) -> str:
    if spec is None:
        return "null"
    if isinstance(spec, tuple):
        return " or ".join(_describe(s) for s in spec)
    if isinstance(spec, list):
        return f"a list of {_describe(spec[0]).split(' ', 1)[1]}s"
    if isinstance(spec, dict) or spec is dict:
        return "a mapping"
    return _article({float: "number", bool: "bool (true/false)", str: "string"}.get(spec, spec.__name__))


def _show(value) -> str:
    if value is None:
        return "null"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _matches(spec, value) -> bool:
    if spec is None:
        return value is None
    if isinstance(spec, tuple):
        return any(_matches(s, value) for s in spec)
    if isinstance(spec, list):
        return isinstance(value, list) and all(_matches(spec[0], v) for v in value)
    if spec is bool:
        return isinstance(value, bool)
    if spec is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if spec is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, spec)


def _close(word: str, candidates) -> list[str]:
    """The candidates that look like a misspelling of `word`, best first (only near-ties of the best)."""
    scored = sorted(((difflib.SequenceMatcher(None, word, c).ratio(), c) for c in candidates), reverse=True)
    if not scored:
        return []
    return [c for score, c in scored if score >= 0.6 and score >= scored[0][0] - 0.1][:3]


def _did_you_mean(word: str, candidates) -> str:
    close = _close(word, candidates)
    if close:
        return " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)"
    return " (allowed here: " + ", ".join(candidates) + ")"


def _nullable(spec, default) -> bool:
    return spec is None or (isinstance(spec, tuple) and None in spec) or default is None


def _check_section(table: dict, value: dict, prefix: str, ctx: _Context) -> dict:
    for key in value:
        if key not in table:
            dotted = prefix + str(key)
            ctx.fail(dotted, f"unknown key '{dotted}'" + _did_you_mean(str(key), table))
    out = {}
    for key, entry in table.items():
        spec, required, default = entry[:3]
        dotted = prefix + key
        is_section = isinstance(spec, dict) or spec is dict
        if key not in value or (value[key] is None and is_section and not required):
            if required:
                ctx.fail(dotted, f"missing required key '{dotted}'")
            item = copy.deepcopy(default)
            if isinstance(spec, dict) and item is not None:
                item = _check_section(spec, item, dotted + ".", ctx)
            out[key] = item
            continue
        item = value[key]
        if item is None and _nullable(spec, default) and not required:
            out[key] = None
            continue
        if isinstance(spec, dict):
            if not isinstance(item, dict):
                ctx.fail(dotted, f"'{dotted}' must be a mapping, got {_show(item)}")
            out[key] = _check_section(spec, item, dotted + ".", ctx)
            continue
        if not _matches(spec, item):
            ctx.fail(dotted, f"'{dotted}' must be {_describe(spec)}, got {_show(item)}")
        numbers = [v for v in (item if isinstance(item, list) else [item])
                   if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if any(not math.isfinite(v) for v in numbers):
            ctx.fail(dotted, f"'{dotted}' must be a finite number, got {_show(item)}")
        if len(entry) > 3 and isinstance(entry[3], Range):
            bad = [v for v in numbers if not entry[3].holds(v)]
            if bad:
                what = "every value of " if isinstance(item, list) else ""
                ctx.fail(dotted, f"{what}'{dotted}' must be {entry[3]}, got {_show(item)}")
        elif len(entry) > 3 and item not in entry[3]:
            choices = ", ".join(f"'{c}'" for c in entry[3])
            ctx.fail(dotted, f"'{dotted}' must be one of {choices}, got {_show(item)}")
        out[key] = copy.deepcopy(item)
    return out


def validate_config(raw, source: str = "<config>", overrides: dict[str, str] | None = None) -> dict:
    """Check a config mapping against SCHEMA and return a new dict with every optional key filled.

    `source` names the config in error messages; `overrides` maps dotted keys to the override text
    that set them, so an error caused by an override says so.
    """
    ctx = _Context(source, overrides)
    _check_top(raw, ctx)
    return _check_section(SCHEMA, raw, "", ctx)


def _check_top(raw, ctx: _Context) -> None:
    if raw is None:
        ctx.fail("", "config is empty; expected a mapping with dataset_params, model_params, train_params")
    if not isinstance(raw, dict):
        ctx.fail("", f"config must be a mapping of sections, got {_show(raw)}")


# ------------------------------------------------------------------------------------- overrides


def _override_target(key: str, ctx: _Context):
    """Check that a dotted override key names something in SCHEMA (anything below a free-form dict)."""
    table, prefix = SCHEMA, ""
    parts = key.split(".")
    for i, part in enumerate(parts):
        entry = table.get(part)
        if entry is None:
            rest = "".join("." + p for p in parts[i + 1:])
            close = [prefix + c + rest for c in _close(part, table)]
            break
        spec = entry[0]
        if spec is dict or i == len(parts) - 1:
            return  # found; below a free-form mapping any deeper key is fine
        if not isinstance(spec, dict):
            ctx.fail("", f"unknown override key '{key}': '{prefix + part}' is a value with no keys below it")
        table, prefix = spec, prefix + part + "."
    if not close:  # e.g. 'num_epochs=3' without its section: match the last part anywhere
        names = _close(parts[-1], {k.rsplit(".", 1)[-1] for k in schema_keys()})
        close = [k for k in schema_keys() if k.rsplit(".", 1)[-1] in names][:3]
    hint = (" (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)") if close else (
        "; overrides look like train_params.num_epochs=3")
    ctx.fail("", f"unknown override key '{key}'{hint}")


def _apply_override(cfg: dict, text: str, ctx: _Context) -> str:
    key, sep, value_text = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not p for p in key.split(".")):
        ctx.fail("", f"bad override '{text}': expected dotted.key=value, e.g. train_params.num_epochs=3")
    _override_target(key, ctx)
    try:
        value = yaml.load(value_text, Loader=_Loader)
    except yaml.YAMLError as err:
        ctx.fail("", f"bad override '{text}': the value is not valid YAML: {_yaml_problem(err)}")
    node = cfg
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            ctx.fail("", f"bad override '{text}': '{'.'.join(parts[:i + 1])}' is not a mapping in the config")
        node = child
    node[parts[-1]] = value
    return key


def load_config(path, overrides=()) -> dict:
    """Read a YAML config, apply "dotted.key=value" overrides, validate, and fill defaults.

    Raises errors.UserError (one line naming the file and the key) on any problem.
    """
    path = Path(path)
    raw = _read_yaml(path)
    ctx = _Context(str(path))
    _check_top(raw, ctx)
    if isinstance(overrides, str):
        overrides = [overrides]
    applied = {}
    for text in overrides:
        applied[_apply_override(raw, text, ctx)] = text
    return validate_config(raw, str(path), applied)


# ------------------------------------------------------------------------------------- writing


class _Dumper(yaml.SafeDumper):
    """Safe dumper that writes lists of scalars on one line, as the configs do."""


def _represent_list(dumper, data):
    flow = all(not isinstance(v, (list, tuple, dict)) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", list(data), flow_style=flow)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(tuple, _represent_list)


def dump_config(cfg: dict, path) -> None:
    """Write `cfg` as YAML to `path` atomically (temp file in the same folder, then os.replace)."""
    path = Path(path)
    text = yaml.dump(cfg, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)
    if not path.parent.is_dir():
        raise UserError(f"cannot write config {path}: the folder does not exist; create it first")
    atomic_write_text(path, text)
