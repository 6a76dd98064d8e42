"""The run config's schema: every key of the YAML configs, its type, whether it is required, its default and bounds."""


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
