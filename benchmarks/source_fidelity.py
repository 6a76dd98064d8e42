"""Benchmark: how much of a photo does the model keep when nothing moves? Each source redrawn with its own keypoints.

    python benchmarks/source_fidelity.py                                       # bundled model, data/source.jpg
    python benchmarks/source_fidelity.py --crop photo.jpg other.jpg ...        # face crops, as demo.py --crop
    python benchmarks/source_fidelity.py --checkpoint X --config C photo.jpg

For every photo: the model's frame-size copy of it (with --crop: of its face box enlarged --crop_scale
times, as demo.py --crop cuts it), then the generator driven by the photo's own keypoints (driving
keypoints = source keypoints: zero motion, which is what the first frame of a relative-mode animation
asks for). Prints the L1 and PSNR of that redrawing against the copy, and the occlusion map's minimum
and mean. On a face seen in training the redrawing is close to the copy; on an unseen face the gap
measures how much of that face the generator cannot carry over, before any motion.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.hardware import cpu_summary  # noqa: E402
from engine.inference import load_model  # noqa: E402
from errors import run_cli  # noqa: E402
from evaluation.metrics import l1_distance, psnr  # noqa: E402
from footage.sources import fit_frame  # noqa: E402
from video.image import load_image  # noqa: E402

DEFAULT_CHECKPOINT = ROOT / "checkpoints" / "stillmotion-vox-128.pth.tar"


def redraw(model, frame: np.ndarray) -> dict:
    """The generator's output for `frame` (HxWx3 float in [0, 1], model size) driven by its own keypoints."""
    source = torch.from_numpy(frame).permute(2, 0, 1)[None].to(model.device)
    with torch.inference_mode():
        kp = model.networks.kp_detector(source)
        out = model.networks.generator(source, kp_driving=kp, kp_source=kp)
    result = {"image": out["prediction"][0].permute(1, 2, 0).clamp(0, 1).float().cpu().numpy()}
    if "occlusion_map" in out:
        result["occlusion"] = out["occlusion_map"][0, 0].float().cpu().numpy()
    return result


def _main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos", nargs="*", help="source photos (default: data/source.jpg)")
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    p.add_argument("--config", default=None, help="YAML config (default: the one stored in the checkpoint)")
    p.add_argument("--crop", action="store_true", help="use the largest face's crop box, as demo.py --crop")
    p.add_argument("--crop_scale", type=float, default=1.8, help="crop box side / face box side (default 1.8)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    photos = args.photos or [str(ROOT / "data" / "source.jpg")]
    model = load_model(args.checkpoint, config_path=args.config, device=args.device)
    size = tuple(model.config["dataset_params"]["frame_shape"][:2])
    backend = None
    if args.crop:
        from faces import get_backend
        from faces.crop import crop_resize
        from faces.follow import source_face_box

        backend = get_backend("auto", landmarks=False)
        print(f"crop: {backend.describe()}, box side x{args.crop_scale}")
    frames = []  # every photo read (and cropped) before any row is printed: a bad one stops with no partial table
    for path in photos:
        image = load_image(path)
        if backend is not None:
            box = source_face_box(image, backend, args.crop_scale, name=path)
            image = crop_resize(image, box, max(size))
        frames.append(fit_frame(image, size))
    print(f"model: {args.checkpoint} ({size[1]}x{size[0]})\n")
    print(f"CPU: {cpu_summary()}")
    print("| photo | L1 | PSNR (dB) | occlusion min | occlusion mean |")
    print("|---|---|---|---|---|")
    for path, frame in zip(photos, frames):
        out = redraw(model, frame)
        occlusion = out.get("occlusion")
        occ = f"{occlusion.min():.2f} | {occlusion.mean():.2f}" if occlusion is not None else "- | -"
        print(f"| {Path(path).name} | {l1_distance(out['image'], frame):.4f} | {psnr(out['image'], frame):.1f} "
              f"| {occ} |")


if __name__ == "__main__":
    sys.exit(run_cli(_main))
