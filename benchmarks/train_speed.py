"""Training throughput benchmark: samples/s and peak memory of full FOMM training steps (random data, random VGG).

  python benchmarks/train_speed.py                       # vox-256 at batch 1 and cpu-64 at batch 8, on CPU
  python benchmarks/train_speed.py --device cuda         # the same on a GPU
  python benchmarks/train_speed.py --bf16 --steps 5      # bf16 autocast
Prints one markdown row per (config, batch, dtype). Steps include the generator, keypoint-detector and
(when generator_gan != 0) discriminator updates, exactly as engine.train runs them.
"""
import argparse
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config import load_config  # noqa: E402
from engine.distributed import DistInfo  # noqa: E402
from engine.hardware import cpu_summary  # noqa: E402
from engine.perceptual import build_vgg  # noqa: E402
from engine.train import Trainer  # noqa: E402


def peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def bench(config_path, batch, steps, device, bf16, threads):
    overrides = [f"train_params.batch_size={batch}", "train_params.vgg_weights=random",
                 f"train_params.mixed_precision={'bf16' if bf16 else 'fp32'}"]
    cfg = load_config(config_path, overrides)
    info = DistInfo(device=torch.device(device))
    vgg, _ = build_vgg(cfg["train_params"])
    trainer = Trainer(cfg, info, vgg=vgg)
    h, w = cfg["dataset_params"]["frame_shape"][:2]
    gen = torch.Generator().manual_seed(0)
    batches = [{key: torch.rand(batch, 3, h, w, generator=gen) for key in ("source", "driving")} for _ in range(2)]
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    trainer.step(batches[0])  # warm-up (allocations, autotuning)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(steps):
        trainer.step(batches[i % 2])
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / steps
    mem = torch.cuda.max_memory_allocated() / 1024**3 if device.startswith("cuda") else peak_rss_gb()
    return dt, batch / dt, mem


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--runs", nargs="*", default=["config/vox-256.yaml:1", "config/cpu-64.yaml:8"],
                   help="CONFIG:BATCH pairs")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, device {args.device}, {args.threads} threads, "
          f"{'bf16 autocast' if args.bf16 else 'fp32'}, {args.steps} timed steps after 1 warm-up")
    print(f"CPU: {cpu_summary()}")
    print("| config | batch | s/step | samples/s | peak memory (GiB) |")
    print("|---|---|---|---|---|")
    for run in args.runs:
        config, batch = run.rsplit(":", 1)
        dt, rate, mem = bench(config, int(batch), args.steps, args.device, args.bf16, args.threads)
        kind = "GPU allocated" if args.device.startswith("cuda") else "process RSS"
        print(f"| {config} | {batch} | {dt:.2f} | {rate:.2f} | {mem:.2f} ({kind}) |", flush=True)


if __name__ == "__main__":
    main()
