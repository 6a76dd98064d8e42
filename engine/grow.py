"""Starting a model of another frame size from a trained one's weights (for instance 64x64 -> 128x128).

  git show 90d098f:checkpoints/stillmotion-vox-64.pth.tar > log/stillmotion-vox-64.pth.tar  # the old bundled model
  python -m engine.grow --checkpoint log/stillmotion-vox-64.pth.tar \
      --config config/stillmotion-vox-128.yaml --output log/init-128.pth.tar
  python run.py --config config/stillmotion-vox-128.yaml --checkpoint log/init-128.pth.tar

The FOMM networks are convolutional, so a model for a larger frame has the same learned weights when its
channel settings match; only the anti-aliasing kernels (fixed Gaussians, set by each network's
scale_factor) differ in shape. Those come from the new config; every learned tensor must fit exactly, or
this stops with one line naming what does not. The output is an original-format checkpoint with no
epoch, so training starts from step 0 with these weights (as with the published checkpoints).
"""
import argparse
import logging
import sys

from engine.build import build_networks
from engine.checkpoint import _mismatch, read_checkpoint, save_checkpoint
from engine.config import load_config
from errors import UserError, run_cli
from reporting import console

log = logging.getLogger(__name__)


def _is_antialias_kernel(key: str) -> bool:
    # modules/antialias.py: the 'weight' buffer of a network's 'down' module (kp_detector.down,
    # dense_motion_network.down); no learned tensor is named like it
    return key == "down.weight" or key.endswith(".down.weight")


def grow(checkpoint, config_path, output) -> dict:
    """Write `output`: the networks of `config_path` holding the weights of `checkpoint`; returns a report."""
    config = load_config(config_path)
    state = read_checkpoint(checkpoint)
    nets = build_networks(config["model_params"])
    out, report = {"epoch": -1}, {"copied": 0, "from_config": []}
    for name in ("kp_detector", "generator"):
        if name not in state:
            raise UserError(f"checkpoint {checkpoint} has no '{name}' weights; nothing to grow from")
        old = state[name]
        new = getattr(nets, name).state_dict()
        missing, unexpected, shapes = _mismatch({k: list(v.shape) for k, v in new.items()},
                                                {k: list(v.shape) for k, v in old.items()})
        wrong = [k for k in shapes if not _is_antialias_kernel(k)]
        if missing or unexpected or wrong:
            what = (f"{len(missing)} missing ({', '.join(missing[:2])})" if missing else
                    f"{len(unexpected)} unexpected ({', '.join(unexpected[:2])})" if unexpected else
                    f"{wrong[0]}: {list(old[wrong[0]].shape)} vs {list(new[wrong[0]].shape)}")
            raise UserError(f"{name} of {checkpoint} does not fit {config_path}: {what}; the channel settings "
                            "(num_kp, block_expansion, max_features, num_blocks, ...) must be the same")
        for key in new:
            if key in shapes:  # only anti-aliasing kernels are left here: every other mismatch stopped above
                report["from_config"].append(f"{name}.{key}")
            else:
                new[key] = old[key].clone()
                report["copied"] += 1
        out[name] = new
    save_checkpoint(output, out)
    return report


def _main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="the trained model to start from")
    p.add_argument("--config", required=True, help="the config of the new model")
    p.add_argument("--output", required=True, help="checkpoint to write (then: run.py --checkpoint it)")
    args = p.parse_args(argv)
    console()
    report = grow(args.checkpoint, args.config, args.output)
    log.info("wrote %s: %d tensors copied; anti-aliasing kernels from the new config: %s", args.output,
             report["copied"], ", ".join(report["from_config"]) or "none")


if __name__ == "__main__":
    sys.exit(run_cli(_main))
