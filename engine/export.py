"""Exporting an inference checkpoint (keypoint detector + generator + config) or its three ONNX graphs.

  python -m engine.export --checkpoint log/RUN/last-checkpoint.pth.tar --output checkpoints/model.pth.tar
  python -m engine.export --onnx onnx/vox-128                   # the bundled model -> three ONNX graphs
  python -m engine.export --onnx onnx/vox-256 --checkpoint vox-cpk.pth.tar --config config/vox-256.yaml
--output writes an original-format FOMM checkpoint (generator, kp_detector, epoch), plus our
'stillmotion' record (config, step), so demo.py needs no --config for it. --onnx writes a folder with
keypoints.onnx, source_encoder.onnx, frame.onnx (engine/onnx_export.py says what goes in and out),
config.yaml and export.json, for demo.py --runtime onnxruntime --onnx FOLDER.
"""
import argparse
import logging
import signal
import sys
from pathlib import Path

from engine.checkpoint import read_checkpoint, save_checkpoint
from errors import UserError, run_cli
from reporting import console

log = logging.getLogger(__name__)

BUNDLED = Path(__file__).resolve().parents[1] / "checkpoints" / "stillmotion-vox-128.pth.tar"


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


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM / SIGHUP clean up like Ctrl-C: no partial output is left


def _main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint to export (--onnx: default the bundled checkpoints/stillmotion-vox-128.pth.tar)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--output", help="the slim inference checkpoint to write")
    target.add_argument("--onnx", metavar="OUT_DIR", help="a new folder for the three ONNX graphs and the config")
    p.add_argument("--config", default=None,
                   help="--onnx: YAML config (default: the one stored in the checkpoint; needed for published "
                        "FOMM weights)")
    args = p.parse_args(argv)
    console()
    if args.output is not None:
        if args.checkpoint is None:
            raise UserError("--output needs --checkpoint, the training checkpoint to slim down")
        if args.config is not None:
            raise UserError("--config is for --onnx; --output keeps the config stored in the checkpoint")
        slim = export(args.checkpoint, args.output)
        log.info("wrote %s (step %s)", args.output, slim["stillmotion"].get("step", "?"))
        return
    from engine.inference import load_model
    from engine.onnx_export import check_out_dir, export_onnx

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    check_out_dir(args.onnx)  # before minutes of loading and tracing
    model = load_model(args.checkpoint or BUNDLED, config_path=args.config, device="cpu")
    manifest = export_onnx(model, args.onnx)
    worst = max(manifest["check_max_abs_diff"].values())
    log.info("wrote %s and config.yaml to %s (opset %s, %dx%d; onnxruntime vs torch max abs diff %.1e)",
             ", ".join(manifest["graphs"]), args.onnx, manifest["opset"], manifest["frame_shape"][1],
             manifest["frame_shape"][0], worst)


if __name__ == "__main__":
    sys.exit(run_cli(_main))
