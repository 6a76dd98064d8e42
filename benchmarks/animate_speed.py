"""Animation speed at the vox-256 config (random weights): the batched Animator in fp32/bf16 vs the per-frame path.

  python benchmarks/animate_speed.py                  # CPU (2 threads), and the GPU when there is one
  python benchmarks/animate_speed.py --frames 32 --threads 4 --batch_size 8 --no_gpu

Prints seconds per frame and frames per second for each variant, the largest difference between the fast
fp32 output and the per-frame path, and the PSNR of the bf16 output against fp32. Driving frames are real
(the first frames of franck.mp4 from the shared media, else shifted crops of skimage's astronaut), decoded
to 256x256 before timing, so only the networks are measured.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.animate import Animator, animate_per_frame  # noqa: E402
from engine.build import build_networks  # noqa: E402
from engine.config import load_config  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"


def driving_frames(count: int, size: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """(source, driving frames) as HxWx3 float32 at size x size."""
    from datasets.sources import fit_frame

    video_path = MEDIA / "franck.mp4"
    if video_path.is_file():
        from video import iter_frames, load_image

        frames = [f.astype(np.float32) / 255 for f in iter_frames(video_path, stop=count, size=(size, size))]
        photo = MEDIA / "audrey.jpg"
        source = fit_frame(load_image(photo), (size, size)) if photo.is_file() else frames[0]
        return source, frames
    from skimage.data import astronaut

    image = astronaut().astype(np.float32) / 255
    crops = [image[8 + i % 16: 8 + i % 16 + 480, 8 + (2 * i) % 16: 8 + (2 * i) % 16 + 480] for i in range(count)]
    return fit_frame(image, (size, size)), [fit_frame(c, (size, size)) for c in crops]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_fast(nets, device, source, frames, batch_size, dtype, channels_last, compile=False):
    """(seconds per frame, outputs) of the Animator after one warm-up batch."""
    animator = Animator(kp_detector=nets.kp_detector, generator=nets.generator, frame_shape=source.shape[:2],
                        device=device, batch_size=batch_size, dtype=dtype, channels_last=channels_last,
                        compile=compile)
    animator.set_source(source)
    for _ in animator.run(frames[:batch_size]):  # warm-up: kernel selection, caches, compilation
        pass
    sync(device)
    start = time.perf_counter()
    outputs = [f.image for f in animator.run(frames)]
    sync(device)
    elapsed = time.perf_counter() - start
    nets.kp_detector.to(memory_format=torch.contiguous_format)
    nets.generator.to(memory_format=torch.contiguous_format)
    return elapsed / len(frames), outputs


def time_per_frame(nets, device, source, frames):
    list(animate_per_frame(source, frames[:1], nets.kp_detector, nets.generator, source.shape[:2], device=device))
    sync(device)
    start = time.perf_counter()
    outputs = list(animate_per_frame(source, frames, nets.kp_detector, nets.generator, source.shape[:2],
                                     device=device))
    sync(device)
    return (time.perf_counter() - start) / len(frames), outputs


def bench(device: torch.device, frames_count: int, batch_size: int, compile: bool) -> None:
    config = load_config(ROOT / "config" / "vox-256.yaml")
    torch.manual_seed(0)
    nets = build_networks(config["model_params"])
    for _, net in nets.items():
        net.to(device).eval()
    size = config["dataset_params"]["frame_shape"][0]
    source, frames = driving_frames(frames_count, size)
    print(f"\n{device.type}: vox-256 (random weights), {len(frames)} frames at {size}x{size}, "
          f"threads {torch.get_num_threads()}, batch {batch_size}")
    rows = []
    ref_time, reference = time_per_frame(nets, device, source, frames)
    rows.append(("per-frame path (fp32, no_grad, batch 1)", ref_time))
    fast_time, fast = time_fast(nets, device, source, frames, batch_size, "fp32", channels_last=False)
    rows.append((f"Animator fp32, batch {batch_size}", fast_time))
    cl_time, fast_cl = time_fast(nets, device, source, frames, batch_size, "fp32", channels_last=True)
    rows.append((f"Animator fp32, batch {batch_size}, channels_last", cl_time))
    bf_time, bf16 = time_fast(nets, device, source, frames, batch_size, "bf16", channels_last=True)
    rows.append((f"Animator bf16, batch {batch_size}, channels_last", bf_time))
    if compile:
        co_time, _ = time_fast(nets, device, source, frames, batch_size, "bf16", channels_last=True, compile=True)
        rows.append((f"Animator bf16, batch {batch_size}, channels_last, compiled", co_time))
    for name, seconds in rows:
        print(f"  {name:<52} {seconds * 1000:9.1f} ms/frame {1 / seconds:8.2f} frames/s "
              f"{ref_time / seconds:5.2f}x")
    diff = max(float(np.abs(a - b).max()) for a, b in zip(fast, reference))
    diff_cl = max(float(np.abs(a - b).max()) for a, b in zip(fast_cl, reference))
    print(f"  max |fast fp32 - per-frame| = {diff:.2e} (channels_last: {diff_cl:.2e})")
    print(f"  PSNR bf16 vs fp32 = {np.mean([psnr(a, b) for a, b in zip(bf16, fast_cl)]):.1f} dB "
          f"(min over frames {min(psnr(a, b) for a, b in zip(bf16, fast_cl)):.1f} dB)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=16, help="driving frames on the CPU (GPU: 8x as many)")
    p.add_argument("--batch_size", type=int, default=8)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--no_gpu", action="store_true", help="skip the GPU even when there is one")
    p.add_argument("--no_cpu", action="store_true", help="skip the CPU")
    p.add_argument("--compile", action="store_true", help="also time torch.compile (slow to start)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not args.no_cpu:
        bench(torch.device("cpu"), args.frames, args.batch_size, args.compile)
    if not args.no_gpu and torch.cuda.is_available():
        print(f"GPU: {torch.cuda.get_device_name(0)}")
        bench(torch.device("cuda"), args.frames * 8, max(args.batch_size, 16), args.compile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
