"""Command line for the local web app: animate a photo (demo.py) or stylize a video (stylize.py) in the browser.

  python app.py                                   # http://127.0.0.1:7860, says the address (stderr)
  python app.py --port 8000 --max_video_seconds 120 --max_photo_megapixels 24
Nothing leaves this computer: no analytics, no share link, no fonts from the internet. Each job runs in its
own temp folder, removed when it ends; the app's temp folder goes when the app stops. Limits also come from
STILLMOTION_APP_MAX_UPLOAD_MB, STILLMOTION_APP_MAX_PHOTO_MEGAPIXELS and STILLMOTION_APP_MAX_VIDEO_SECONDS.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from errors import UserError, run_cli
from reporting import console

log = logging.getLogger("app")  # the address line; jobs report through their own captured logs

ROOT = Path(__file__).resolve().parent
# Gradio reads these when it is imported: no usage statistics or version check, no server-side rendering
# (that needs node), no telemetry from the hub client it brings
OFFLINE_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_SSR_MODE": "False", "HF_HUB_OFFLINE": "1",
               "HF_HUB_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1"}


def _env_float(name: str, default: float) -> float:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        return float(text)
    except ValueError:
        raise UserError(f"{name}={text!r} is not a number; set it to one such as {default:g}") from None


def parse_args(argv=None):
    from webapp.jobs import Limits

    d = Limits()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860; 0: any free port)")
    p.add_argument("--checkpoint", default=None, help="model weights for demo.py (default: the bundled model)")
    p.add_argument("--config", default=None, help="YAML config for demo.py (for published FOMM checkpoints)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--max_upload_mb", type=float, default=_env_float("STILLMOTION_APP_MAX_UPLOAD_MB", d.max_upload_mb),
                   help=f"largest upload in MB (default {d.max_upload_mb:g})")
    p.add_argument("--max_photo_megapixels", type=float,
                   default=_env_float("STILLMOTION_APP_MAX_PHOTO_MEGAPIXELS", d.max_photo_megapixels),
                   help=f"largest photo in megapixels (default {d.max_photo_megapixels:g})")
    p.add_argument("--max_video_seconds", type=float,
                   default=_env_float("STILLMOTION_APP_MAX_VIDEO_SECONDS", d.max_video_seconds),
                   help=f"longest driving or input video in seconds (default {d.max_video_seconds:g})")
    p.add_argument("--keep_results", type=int, default=4,
                   help="finished videos kept for the page to show and download (default 4; older ones deleted)")
    p.add_argument("--queue_size", type=int, default=16, help="jobs that may wait in the queue (default 16)")
    return p.parse_args(argv)


def run(args) -> None:
    from webapp.jobs import Jobs, Limits

    for name, value in (("--max_upload_mb", args.max_upload_mb), ("--max_photo_megapixels", args.max_photo_megapixels),
                        ("--max_video_seconds", args.max_video_seconds)):
        if not value > 0:
            raise UserError(f"{name} must be above 0, got {value:g}")
    if not 0 <= args.port < 65536:
        raise UserError(f"--port must be 0..65535, got {args.port}")
    if args.queue_size < 1:
        raise UserError(f"--queue_size must be at least 1, got {args.queue_size}")
    root = Path(tempfile.mkdtemp(prefix="stillmotion-app-"))
    try:
        os.environ.update(OFFLINE_ENV)
        os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio")  # uploads and Gradio's result copies: ours to remove
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(root / "torchinductor"))  # torch makes it on import
        import gradio as gr  # noqa: F401  (after the environment above)

        from webapp import ui

        limits = Limits(args.max_upload_mb, args.max_photo_megapixels, args.max_video_seconds)
        jobs = Jobs(root, limits, keep_results=args.keep_results, checkpoint=args.checkpoint, config=args.config,
                    device=args.device)
        page = ui.build(jobs).queue(max_size=args.queue_size, default_concurrency_limit=1)
        _, url, _ = page.launch(server_name=args.host, server_port=args.port or _free_port(args.host), share=False,
                                max_file_size=f"{args.max_upload_mb:g}mb", theme=ui.THEME, ssr_mode=False,
                                mcp_server=False, pwa=False, enable_monitoring=False, quiet=True,
                                allowed_paths=[str(ROOT / "data")], footer_links=["settings"],
                                prevent_thread_lock=True)
        log.info("stillmotion app: %s/ (Ctrl-C stops it)", url.rstrip("/"))
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGHUP, _interrupt)
        page.block_thread()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def main(argv=None) -> int:
    console(logging.WARNING)  # warnings, and the address line on stderr
    log.setLevel(logging.INFO)
    return run_cli(lambda a: run(parse_args(a)), argv)


if __name__ == "__main__":
    sys.exit(main())
