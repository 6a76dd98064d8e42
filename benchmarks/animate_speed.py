"""Animation speed: the batched Animator in torch fp32/bf16 and in onnxruntime vs the per-frame path, one run.

  python benchmarks/animate_speed.py                  # vox-256 config, random weights; CPU (2 threads), and GPU
  python benchmarks/animate_speed.py --frames 32 --threads 4 --batch_size 8 --no_gpu
  python benchmarks/animate_speed.py --checkpoint checkpoints/stillmotion-vox-128.pth.tar --no_gpu  # trained

Prints seconds per frame and frames per second for each variant, each with the CPU it ran on (model,
AVX-512 / VNNI / bf16 / AMX flags), the largest difference between the fast fp32 output and the per-frame
path, and the PSNR of every other variant against torch fp32 (a variant is worth keeping at >= 40 dB).
The onnxruntime rows use the graphs of python -m engine.export --onnx (written to a temporary folder),
with onnxruntime's graph optimisation levels and an int8 copy of the per-frame graph (dynamic
quantisation of its convolutions, and static QDQ calibrated on other frames of the same video). With random
weights every output is close to grey, so the PSNR says little: take quality from a --checkpoint run.
Driving frames are real (the first frames of franck.mp4 from the shared media, else shifted crops of
skimage's astronaut), decoded to the model's size before timing, so only the networks are measured.
"""
from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.animate import Animator, animate_per_frame  # noqa: E402
from engine.build import build_networks  # noqa: E402
from engine.config import load_config  # noqa: E402
from engine.hardware import bf16_native, cpu_summary  # noqa: E402
from engine.inference import LoadedModel, load_model  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"


def driving_frames(count: int, size: int, start: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """(source, driving frames) as HxWx3 float32 at size x size."""
    from footage.sources import fit_frame

    video_path = MEDIA / "franck.mp4"
    if video_path.is_file():
        from video import iter_frames, load_image

        frames = [f.astype(np.float32) / 255
                  for f in iter_frames(video_path, start=start, stop=start + count, size=(size, size))]
        photo = MEDIA / "audrey.jpg"
        source = fit_frame(load_image(photo), (size, size)) if photo.is_file() else frames[0]
        return source, frames
    from skimage.data import astronaut

    image = astronaut().astype(np.float32) / 255
    crops = [image[8 + i % 16: 8 + i % 16 + 480, 8 + (2 * i) % 16: 8 + (2 * i) % 16 + 480]
             for i in range(start, start + count)]
    return fit_frame(image, (size, size)), [fit_frame(c, (size, size)) for c in crops]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_animator(animator, device, source, frames, batch_size):
    """(seconds per frame, outputs) of an Animator (torch or onnxruntime) after one warm-up batch."""
    animator.set_source(source)
    for _ in animator.run(frames[:batch_size]):  # warm-up: kernel selection, caches, compilation
        pass
    sync(device)
    start = time.perf_counter()
    outputs = [f.image for f in animator.run(frames)]
    sync(device)
    return (time.perf_counter() - start) / len(frames), outputs


def time_fast(nets, device, source, frames, batch_size, dtype, channels_last, compile=False):
    """(seconds per frame, outputs) of the torch Animator after one warm-up batch."""
    animator = Animator(kp_detector=nets.kp_detector, generator=nets.generator, frame_shape=source.shape[:2],
                        device=device, batch_size=batch_size, dtype=dtype, channels_last=channels_last,
                        compile=compile)
    result = time_animator(animator, device, source, frames, batch_size)
    nets.kp_detector.to(memory_format=torch.contiguous_format)
    nets.generator.to(memory_format=torch.contiguous_format)
    return result


def quantize_frame_graph(folder: Path, source, calibration_frames, batch_size: int) -> list[tuple[str, str]]:
    """int8 copies of folder/frame.onnx: dynamic (weights int8, activations quantised on the fly) and static
    QDQ (activation ranges calibrated on `calibration_frames`). Returns [(label, file name)]."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    from engine.animate_onnx import OnnxAnimator

    logging.getLogger().setLevel(logging.ERROR)  # the quantiser's advice to pre-process the graph first
    quantize_dynamic(str(folder / "frame.onnx"), str(folder / "frame.int8-dynamic.onnx"), weight_type=QuantType.QInt8,
                     op_types_to_quantize=["Conv"])
    animator = OnnxAnimator(folder, batch_size=batch_size, device="cpu")
    animator.set_source(source)
    with torch.inference_mode():
        kp = animator._detect(animator._to_tensor([animator.prepare(f) for f in calibration_frames]))
        normalized = animator._normalizer({k: v[:1] for k, v in kp.items()})(kp)
    feeds = [dict(animator._source_feeds, **{f"kp_driving_{k}": v[i:i + 1].numpy().copy()
                                             for k, v in normalized.items()})
             for i in range(len(calibration_frames))]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter(feeds)

        def get_next(self):
            return next(self.feeds, None)

    quantize_static(str(folder / "frame.onnx"), str(folder / "frame.int8-static.onnx"), Reader(),
                    quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    op_types_to_quantize=["Conv"])
    return [("int8 dynamic (Conv)", "frame.int8-dynamic.onnx"), ("int8 static QDQ (Conv)", "frame.int8-static.onnx")]


def time_onnx(model, source, frames, batch_size, threads, calibration_frames, quantize=True):
    """[(row name, seconds per frame, outputs)] for onnxruntime fp32 at each optimisation level and int8."""
    from engine.animate_onnx import OnnxAnimator
    from engine.onnx_export import export_onnx

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "onnx"
        export_onnx(model, folder)
        variants = [(f"fp32, optimisation {level}", level, "frame.onnx") for level in ("all", "basic", "disable")]
        if quantize:
            variants += [(f"{label}, optimisation all", "all", name)
                         for label, name in quantize_frame_graph(folder, source, calibration_frames, batch_size)]
        for label, level, graph in variants:
            animator = OnnxAnimator(folder, batch_size=batch_size, device="cpu", optimization=level, threads=threads,
                                    frame_graph=graph)
            seconds, outputs = time_animator(animator, torch.device("cpu"), source, frames, batch_size)
            rows.append((f"onnxruntime {label}, batch {batch_size}", seconds, outputs))
    return rows


def time_per_frame(nets, device, source, frames):
    list(animate_per_frame(source, frames[:1], nets.kp_detector, nets.generator, source.shape[:2], device=device))
    sync(device)
    start = time.perf_counter()
    outputs = list(animate_per_frame(source, frames, nets.kp_detector, nets.generator, source.shape[:2],
                                     device=device))
    sync(device)
    return (time.perf_counter() - start) / len(frames), outputs


def load(device: torch.device, checkpoint, config_path) -> tuple[LoadedModel, str]:
    """The model to time: a checkpoint, or the vox-256 config with random weights (seed 0)."""
    if checkpoint is not None:
        model = load_model(checkpoint, config_path=config_path, device=device)
        return model, Path(checkpoint).name
    config = load_config(config_path or ROOT / "config" / "vox-256.yaml")
    torch.manual_seed(0)
    nets = build_networks(config["model_params"])
    for _, net in nets.items():
        net.to(device).eval()
    name = Path(config_path).stem if config_path else "vox-256"
    return LoadedModel(config, nets, device, "random weights"), f"{name} (random weights)"


def bench(device: torch.device, frames_count: int, batch_size: int, compile: bool, checkpoint=None,
          config_path=None, onnx=True, quantize=True) -> None:
    model, label = load(device, checkpoint, config_path)
    nets = model.networks
    size = model.config["dataset_params"]["frame_shape"][0]
    source, frames = driving_frames(frames_count, size)
    bf16 = "" if device.type != "cpu" or bf16_native() else " (emulated: the Animator falls back to fp32 here)"
    where = cpu_summary() if device.type == "cpu" else torch.cuda.get_device_name(device)
    print(f"\n{device.type}: {label}, {len(frames)} frames at {size}x{size}, threads {torch.get_num_threads()}, "
          f"batch {batch_size}\n  on {where}")
    rows = []
    ref_time, reference = time_per_frame(nets, device, source, frames)
    rows.append(("per-frame path (fp32, no_grad, batch 1)", ref_time, None))
    fast_time, fast = time_fast(nets, device, source, frames, batch_size, "fp32", channels_last=False)
    rows.append((f"Animator fp32, batch {batch_size}", fast_time, fast))
    cl_time, fast_cl = time_fast(nets, device, source, frames, batch_size, "fp32", channels_last=True)
    rows.append((f"Animator fp32, batch {batch_size}, channels_last", cl_time, None))
    bf_time, bf16_out = time_bf16(nets, device, source, frames, batch_size)
    rows.append((f"Animator bf16, batch {batch_size}, channels_last{bf16}", bf_time, bf16_out))
    if compile:
        co_time, _ = time_fast(nets, device, source, frames, batch_size, "bf16", channels_last=True, compile=True)
        rows.append((f"Animator bf16, batch {batch_size}, channels_last, compiled", co_time, None))
    if onnx and device.type == "cpu":
        _, calibration = driving_frames(8, size, start=frames_count + 100)
        rows += time_onnx(model, source, frames, batch_size, torch.get_num_threads(), calibration, quantize)
    tag = cpu_tag() if device.type == "cpu" else torch.cuda.get_device_name(device)
    for name, seconds, outputs in rows:
        quality = ""
        if outputs is not None and outputs is not fast:
            quality = f"  PSNR vs torch fp32 {min(psnr(a, b) for a, b in zip(outputs, fast)):5.1f} dB (min)"
        print(f"  {name:<60} {seconds * 1000:9.1f} ms/frame {1 / seconds:8.2f} frames/s "
              f"{ref_time / seconds:5.2f}x  [{tag}]{quality}")
    diff = max(float(np.abs(a - b).max()) for a, b in zip(fast, reference))
    diff_cl = max(float(np.abs(a - b).max()) for a, b in zip(fast_cl, reference))
    print(f"  max |fast fp32 - per-frame| = {diff:.2e} (channels_last: {diff_cl:.2e})")
    for name, _, outputs in rows:
        if name.startswith("onnxruntime fp32"):
            print(f"  max |{name} - torch fp32| = {max(float(np.abs(a - b).max()) for a, b in zip(outputs, fast)):.2e}")


def time_bf16(nets, device, source, frames, batch_size):
    """The bf16 Animator as asked, even on a CPU where it would fall back to fp32 (to show why it does)."""
    import engine.animate

    native = engine.animate.bf16_native
    engine.animate.bf16_native = lambda: True
    try:
        return time_fast(nets, device, source, frames, batch_size, "bf16", channels_last=True)
    finally:
        engine.animate.bf16_native = native


def cpu_tag() -> str:
    """The CPU line's short form for each row: model name and the flags that matter for these numbers."""
    name, rest = cpu_summary().split(",", 1)
    flags = rest.split(";")[1].split()
    short = [f for f in ("avx512f", "avx512_vnni", "avx512_bf16", "amx_tile") if f in flags]
    return f"{name}: {' '.join(short) or 'no AVX-512'}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=16, help="driving frames on the CPU (GPU: 8x as many)")
    p.add_argument("--batch_size", type=int, default=8)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--no_gpu", action="store_true", help="skip the GPU even when there is one")
    p.add_argument("--no_cpu", action="store_true", help="skip the CPU")
    p.add_argument("--compile", action="store_true", help="also time torch.compile (slow to start)")
    p.add_argument("--checkpoint", default=None, help="time a trained model (default: random vox-256 weights)")
    p.add_argument("--config", default=None, help="its config, for published FOMM checkpoints")
    p.add_argument("--no_onnx", action="store_true", help="skip the onnxruntime rows")
    p.add_argument("--no_int8", action="store_true", help="skip the int8 onnxruntime rows")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"CPU: {cpu_summary()}")
    if not args.no_cpu:
        bench(torch.device("cpu"), args.frames, args.batch_size, args.compile, args.checkpoint, args.config,
              onnx=not args.no_onnx, quantize=not args.no_int8)
    if not args.no_gpu and torch.cuda.is_available():
        print(f"GPU: {torch.cuda.get_device_name(0)}")
        bench(torch.device("cuda"), args.frames * 8, max(args.batch_size, 16), args.compile, args.checkpoint,
              args.config, onnx=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
