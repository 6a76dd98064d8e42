"""Benchmark: which occlusion values should the full-resolution output trust? A sweep on held-out clips.

    python benchmarks/fullres_trust.py --data data/datasets/media-256-eval --size 256

Every test video of --data is regenerated from its first frame (relative motion, as run.py --mode
reconstruction does) by the bundled (or --checkpoint) model; the full-resolution output (engine.fullres)
is composed with each `trust` pair (the occlusion values mapped to 0 and 1 by a smoothstep: below the
first the generator paints, above the second the warped frame is kept), with the occlusion map taken as
it is or relative to the no-motion one (demo.py's default), and scored against the real
frames at --size: L1, PSNR and SSIM (evaluation.metrics), next to the generator's own frames upscaled.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.animate import Animator  # noqa: E402
from engine.fullres import DEFAULT_TRUST, FullResComposer  # noqa: E402
from engine.inference import load_model  # noqa: E402
from engine.reconstruction import upscaled  # noqa: E402
from evaluation.metrics import psnr, ssim  # noqa: E402
from footage import FramesDataset  # noqa: E402

SWEEP = ((0.0, 1.0), (0.3, 0.6), (0.5, 0.8), (0.7, 0.95), (0.9, 1.0))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="dataset root with the held-out clips (its test/ split)")
    p.add_argument("--size", type=int, default=256, help="frame side to score at (default 256)")
    p.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "stillmotion-vox-128.pth.tar"))
    p.add_argument("--config", default=None)
    args = p.parse_args(argv)
    model = load_model(args.checkpoint, args.config, device="cpu")
    params = dict(model.config["dataset_params"], root_dir=args.data, frame_shape=[args.size, args.size, 3])
    dataset = FramesDataset(is_train=False, **params)
    animator = Animator(model, relative=True, adapt_scale=False, batch_size=8)
    rows = {"generator (upscaled)": []}
    rows.update({f"fullres trust {lo:g}-{hi:g}{r}": [] for lo, hi in SWEEP for r in ("", ", relative")})
    for index in range(len(dataset)):
        frames = list(dataset.source(index).iter())
        first = frames[0]
        animator.set_source(first)
        initial = animator.initial_keypoints(first)
        reference = next(animator.run([first], initial=initial, return_motion=True))
        composers = {}
        for lo, hi in SWEEP:
            for relative in (False, True):
                name = f"fullres trust {lo:g}-{hi:g}{', relative' if relative else ''}"
                composers[name] = FullResComposer(first, None, animator.prepare(first), reference.image, trust=(lo, hi),
                                                  reference_occlusion=reference.occlusion if relative else None)
        for animated, real in zip(animator.run(frames, initial=initial, return_motion=True), frames):
            outputs = {"generator (upscaled)": upscaled(animated.image, real.shape[:2])}
            for name, composer in composers.items():
                outputs[name] = composer.compose(animated.image, animated.deformation, animated.occlusion)
            for name, image in outputs.items():
                rows[name].append((float(np.abs(image - real).mean()), psnr(image, real), ssim(image, real)))
        print(f"video {index + 1}/{len(dataset)}: {dataset.videos[index]}, {len(frames)} frames", file=sys.stderr)
    print(f"{len(rows['generator (upscaled)'])} frames of {len(dataset)} held-out videos at {args.size}x{args.size}, "
          f"model {args.checkpoint}")
    print("| output | L1 | PSNR | SSIM |")
    print("|---|---|---|---|")
    for name, values in rows.items():
        l1, db, s = np.mean(values, axis=0)
        default = name.endswith(f"{DEFAULT_TRUST[0]:g}-{DEFAULT_TRUST[1]:g}, relative")
        print(f"| {name}{' (default)' if default else ''} | "
              f"{l1:.4f} | {db:.2f} | {s:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
