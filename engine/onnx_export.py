"""Exporting a model to three ONNX graphs (keypoints, source encoder, per-frame motion + warp + decoder).

    folder/keypoints.onnx       image (B, 3, H, W) -> kp_value (B, K, 2), kp_jacobian (B, K, 2, 2)
    folder/source_encoder.onnx  source (B, 3, H, W) -> source_features (B, C, H/2^d, W/2^d); once per photo
    folder/frame.onnx           source (S, 3, H, W), source_features (S, ...), kp_source_value (S, K, 2),
                                kp_source_jacobian (S, K, 2, 2), kp_driving_value (B, K, 2),
                                kp_driving_jacobian (B, K, 2, 2)  [normalised driving keypoints]
                                -> prediction (B, 3, H, W), deformation (B, h, w, 2), occlusion (B, 1, h, w)
    folder/config.yaml          the model's config (frame size, keypoint options, visualiser, stages)
    folder/export.json          where it came from: checkpoint, opset, torch version, the export check

Batch sizes are dynamic; S is 1 or B (the frame graph broadcasts the source to the driving batch). The
spatial size is fixed by the config's frame_shape. Models without Jacobians or without an occlusion map
leave those inputs and outputs out. Opset 17: GridSample (bilinear, zeros padding, the config's
align_corners) is an ONNX operator from opset 16 on; ONNX has no matrix inverse, so modules.geometry writes
the 2x2 inverse out while exporting. Every graph is run once in onnxruntime against torch before the folder
appears (max abs difference <= 1e-4, with a batch size other than the traced one).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from atomic import current_umask
from engine.config import dump_config
from errors import UserError

OPSET = 17
KEYPOINTS, ENCODER, FRAME = "keypoints.onnx", "source_encoder.onnx", "frame.onnx"
GRAPHS = (KEYPOINTS, ENCODER, FRAME)
CONFIG, MANIFEST = "config.yaml", "export.json"
CHECK_TOLERANCE = 1e-4


class _Keypoints(nn.Module):
    def __init__(self, kp_detector):
        super().__init__()
        self.kp_detector = kp_detector

    def forward(self, image):
        kp = self.kp_detector(image)
        return tuple(kp[k] for k in ("value", "jacobian") if k in kp)


class _Encoder(nn.Module):
    def __init__(self, generator):
        super().__init__()
        self.generator = generator

    def forward(self, source):
        return self.generator.encode(source)


class _Frame(nn.Module):
    """Dense motion + warp + decoder for a batch of driving keypoints, the source broadcast to the batch."""

    def __init__(self, generator, jacobian: bool):
        super().__init__()
        self.generator = generator
        self.jacobian = jacobian

    def forward(self, source, source_features, *keypoints):
        if self.jacobian:
            kp_source = {"value": keypoints[0], "jacobian": keypoints[1]}
            kp_driving = {"value": keypoints[2], "jacobian": keypoints[3]}
        else:
            kp_source, kp_driving = {"value": keypoints[0]}, {"value": keypoints[1]}
        n = kp_driving["value"].shape[0]
        source = source.expand(n, -1, -1, -1)
        source_features = source_features.expand(n, -1, -1, -1)
        kp_source = {k: v.expand(n, *[-1] * (v.dim() - 1)) for k, v in kp_source.items()}
        out = self.generator(source, kp_driving=kp_driving, kp_source=kp_source, source_features=source_features)
        return tuple(out[k] for k in ("prediction", "deformation", "occlusion_map") if k in out)


def graph_io(config: dict) -> dict:
    """{graph file: (input names, output names)} for a config (which Jacobian / occlusion parts exist)."""
    params = config["model_params"]
    jacobian = bool(params["common_params"].get("estimate_jacobian"))
    generator = params["generator_params"]
    kp = ["value", "jacobian"] if jacobian else ["value"]
    frame_out = ["prediction"]
    if generator.get("dense_motion_params") is not None:
        frame_out.append("deformation")
        if generator.get("estimate_occlusion_map"):
            frame_out.append("occlusion")
    return {
        KEYPOINTS: (["image"], [f"kp_{k}" for k in kp]),
        ENCODER: (["source"], ["source_features"]),
        FRAME: (["source", "source_features"] + [f"kp_source_{k}" for k in kp] + [f"kp_driving_{k}" for k in kp],
                frame_out),
    }


def onnxruntime():
    """The onnxruntime module, or a UserError saying how to install it."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise UserError("onnxruntime is not installed; pip install -r requirements.txt -c constraints.txt "
                        "(or pip install onnxruntime)") from exc
    return ort


def _sample_images(count: int, shape, seed: int) -> torch.Tensor:
    """Smooth, image-like random inputs (low-frequency noise upsampled), so keypoints are not degenerate."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 3, 8, 8, generator=generator)
    return torch.nn.functional.interpolate(coarse, size=tuple(shape), mode="bicubic", align_corners=False).clamp(0, 1)


def _export(module: nn.Module, args: tuple, path: Path, inputs, outputs, batch_axes: dict, opset: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about shapes taken as constants: the size is fixed
        torch.onnx.export(module.eval(), args, str(path), dynamo=False, opset_version=opset, input_names=inputs,
                          output_names=outputs, dynamic_axes=batch_axes, do_constant_folding=True)


def _max_diff(session, feeds: dict, expected: tuple) -> float:
    got = session.run(None, {k: v.detach().cpu().numpy() for k, v in feeds.items()})
    expected = (expected,) if isinstance(expected, torch.Tensor) else expected
    return max(float(np.abs(g - e.detach().float().cpu().numpy()).max()) for g, e in zip(got, expected))


def write_graphs(model, folder: Path, opset: int = OPSET) -> dict:
    """Export the three graphs of a LoadedModel into an existing folder and check them in onnxruntime.

    Returns {graph file: max abs difference to torch on a check batch}."""
    ort = onnxruntime()
    if opset < 16:
        raise UserError(f"opset {opset} has no GridSample operator; use opset 16 or later")
    kp_detector, generator = model.networks.kp_detector, model.networks.generator
    device = next(generator.parameters()).device
    io = graph_io(model.config)
    frame_shape = model.config["dataset_params"]["frame_shape"][:2]
    traced, checked = _sample_images(2, frame_shape, 0).to(device), _sample_images(3, frame_shape, 1).to(device)
    source = _sample_images(1, frame_shape, 2).to(device)
    keypoints, encoder = _Keypoints(kp_detector), _Encoder(generator)
    frame = _Frame(generator, jacobian=len(io[KEYPOINTS][1]) > 1)
    modes = {net: net.training for net in (kp_detector, generator)}
    try:
        with torch.no_grad():
            def frame_args(src, batch):
                kp_s, kp_d = keypoints(src), keypoints(batch)
                return (src, encoder(src), *kp_s, *kp_d)

            axes = {name: {0: "batch"} for name in io[KEYPOINTS][0] + io[KEYPOINTS][1]}
            _export(keypoints, (traced,), folder / KEYPOINTS, *io[KEYPOINTS], axes, opset)
            axes = {name: {0: "batch"} for name in io[ENCODER][0] + io[ENCODER][1]}
            _export(encoder, (traced,), folder / ENCODER, *io[ENCODER], axes, opset)
            inputs, outputs = io[FRAME]
            kp_count = len(io[KEYPOINTS][1])
            axes = {name: {0: "source_batch"} for name in inputs[:2 + kp_count]}
            axes.update({name: {0: "batch"} for name in inputs[2 + kp_count:] + outputs})
            _export(frame, frame_args(source, traced), folder / FRAME, inputs, outputs, axes, opset)

            options = ort.SessionOptions()
            options.log_severity_level = 3
            diffs = {}
            for name, module, args in ((KEYPOINTS, keypoints, (checked,)), (ENCODER, encoder, (checked,)),
                                       (FRAME, frame, frame_args(source, checked))):
                session = ort.InferenceSession(str(folder / name), options, providers=["CPUExecutionProvider"])
                diffs[name] = _max_diff(session, dict(zip(io[name][0], args)), module(*args))
    finally:
        for net, training in modes.items():  # export leaves the wrappers' submodules in their own mode
            net.train(training)
    worst = max(diffs, key=diffs.get)
    if not diffs[worst] <= CHECK_TOLERANCE:
        raise RuntimeError(f"the exported {worst} differs from torch by {diffs[worst]:.2e} (> {CHECK_TOLERANCE}); "
                           "this is a bug in the export, please report it with the config")
    return diffs


def check_out_dir(out_dir) -> Path:
    """out_dir as a Path if it can be the export's new folder: its parent exists, it does not or is empty."""
    out_dir = Path(out_dir)
    parent = out_dir.resolve().parent
    if not parent.is_dir():
        raise UserError(f"cannot write {out_dir}: the folder {parent} does not exist; create it first")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise UserError(f"{out_dir} already exists and is not an empty folder; choose a new --onnx folder")
    return out_dir


def export_onnx(model, out_dir, opset: int = OPSET) -> dict:
    """Write the three graphs, config.yaml and export.json of a LoadedModel to out_dir; returns the manifest.

    out_dir must not exist or be empty: the folder is filled beside it under a temporary name and renamed
    when everything is written and checked, so a failure or an interrupt leaves nothing behind."""
    out_dir = check_out_dir(out_dir)
    parent = out_dir.resolve().parent
    work = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out_dir.name}.", suffix=".tmp"))
    try:
        diffs = write_graphs(model, work, opset)
        dump_config(model.config, work / CONFIG)
        manifest = {"checkpoint": str(model.checkpoint), "opset": opset, "torch": torch.__version__,
                    "frame_shape": list(model.config["dataset_params"]["frame_shape"][:2]),
                    "graphs": {name: {"inputs": i, "outputs": o} for name, (i, o) in graph_io(model.config).items()},
                    "check_max_abs_diff": diffs}
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.chmod(work, 0o777 & ~current_umask())
        os.replace(work, out_dir)  # onto an empty folder too
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest
