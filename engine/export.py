"""Exporting an inference checkpoint: keypoint detector + generator + config, without optimiser or discriminator state.

  python -m engine.export --checkpoint log/RUN/last-checkpoint.pth.tar --output checkpoints/model.pth.tar
The result is still an original-format FOMM checkpoint (generator, kp_detector, epoch), plus our
'stillmotion' record (config, step), so demo.py needs no --config for it.
"""
import argparse
import sys

from engine.checkpoint import read_checkpoint, save_checkpoint
from errors import UserError, run_cli


def export(checkpoint, output) -> dict:
    state = read_checkpoint(checkpoint)
    for name in ("kp_detector", "generator"):
        if name not in state:
            raise UserError(f"checkpoint {checkpoint} has no '{name}' weights; nothing to export")
    ours = state.get("stillmotion", {})
    slim = {"kp_detector": state["kp_detector"], "generator": state["generator"], "epoch": state.get("epoch", -1),
            "stillmotion": {k: ours[k] for k in ("version", "step", "config") if k in ours}}
    save_checkpoint(output, slim)
    return slim


def _main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--output", required=True)
    args = p.parse_args(argv)
    slim = export(args.checkpoint, args.output)
    print(f"wrote {args.output} (step {slim['stillmotion'].get('step', '?')})")


if __name__ == "__main__":
    sys.exit(run_cli(_main))
