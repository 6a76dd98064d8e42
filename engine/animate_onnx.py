"""Animating with onnxruntime: the Animator's interface and keypoint normalisation over the exported ONNX graphs.

    animator = OnnxAnimator("onnx/vox-128", batch_size=8)     # a folder from python -m engine.export --onnx
    animator.set_source(photo)
    for frame in animator.run(driving_frames, return_motion=True):
        writer.write(frame.image)                               # frame.deformation, frame.occlusion as in torch

Only the networks change: batching, normalize_kp (relative motion, Jacobians, movement scale), best frame
and the AnimatedFrame results are the torch Animator's own code. Tensors between the graphs stay on the
CPU; the graphs run on onnxruntime's CUDA provider when it is installed (onnxruntime-gpu) and the device
asks for it, else on the CPU provider.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.animate import Animator
from engine.config import load_config
from engine.inference import LoadedModel
from engine.onnx_export import CONFIG, ENCODER, FRAME, KEYPOINTS, onnxruntime
from errors import UserError

OPTIMIZATION = ("disable", "basic", "extended", "all")  # onnxruntime graph optimisation levels
_OUTPUT_KEYS = {"kp_value": "value", "kp_jacobian": "jacobian", "prediction": "prediction",
                "deformation": "deformation", "occlusion": "occlusion_map"}


def providers(device: str = "auto") -> list[str]:
    """onnxruntime execution providers for 'auto' / 'cpu' / 'cuda' (UserError when cuda is not there)."""
    available = onnxruntime().get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "cuda":
        raise UserError("--device cuda asked for, but onnxruntime has no CUDA provider here (install "
                        "onnxruntime-gpu instead of onnxruntime); use --device cpu")
    return ["CPUExecutionProvider"]


class OnnxAnimator(Animator):
    """Animator over the three graphs in `folder`: keypoints, source encoder (once per photo), frame.

    device: 'auto' (CUDA provider when present), 'cpu' or 'cuda'. optimization: onnxruntime's graph
    optimisation level (default 'all'). threads: intra-op threads (None: onnxruntime's default).
    frame_graph: another file in the folder to use as the per-frame graph (e.g. a quantised copy).
    """

    def __init__(self, folder, *, relative=True, adapt_scale=True, relative_jacobian=True, batch_size=8,
                 device="auto", optimization="all", threads=None, frame_graph=FRAME):
        ort = onnxruntime()
        folder = Path(folder)
        if not folder.is_dir():
            raise UserError(f"ONNX folder {folder} not found; make one with python -m engine.export --onnx {folder}")
        missing = [name for name in (CONFIG, KEYPOINTS, ENCODER, frame_graph) if not (folder / name).is_file()]
        if missing:
            raise UserError(f"{folder} is not an ONNX export: {', '.join(missing)} missing; make one with "
                            f"python -m engine.export --onnx NEW_FOLDER")
        if optimization not in OPTIMIZATION:
            raise UserError(f"unknown optimization {optimization!r}; choose one of: {', '.join(OPTIMIZATION)}")
        config = load_config(folder / CONFIG)
        self.providers = providers(device)
        self.device = torch.device("cpu")  # where the keypoint tensors live between the graphs
        self._set_options(config["dataset_params"]["frame_shape"], relative, adapt_scale, relative_jacobian,
                          batch_size, "fp32")
        self.channels_last = False
        self.compile = False
        self.kp_detector = self.generator = None
        self.model = LoadedModel(config, None, torch.device("cuda" if self.providers[0].startswith("CUDA") else "cpu"),
                                 str(folder))
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[optimization]
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        self.sessions = {}
        for name, file in ((KEYPOINTS, KEYPOINTS), (ENCODER, ENCODER), (FRAME, frame_graph)):
            try:
                self.sessions[name] = ort.InferenceSession(str(folder / file), options, providers=self.providers)
            except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... classes
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise UserError(f"onnxruntime cannot load {folder / file}: {first}; export it again with "
                                "python -m engine.export --onnx NEW_FOLDER") from exc
        self.source = None
        self.source_kp = None
        self.source_features = None
        self._source_feeds = {}

    # ------------------------------------------------------------------ the graphs

    def _to_tensor(self, frames: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(np.stack(frames).transpose(0, 3, 1, 2), dtype=np.float32))

    def _run(self, graph: str, feeds: dict) -> dict:
        session = self.sessions[graph]
        names = [o.name for o in session.get_outputs()]
        outputs = session.run(names, feeds)
        return {_OUTPUT_KEYS.get(n, n): torch.from_numpy(v) for n, v in zip(names, outputs)}

    def _detect(self, images: torch.Tensor) -> dict:
        return self._run(KEYPOINTS, {"image": images.numpy()})

    def _encode(self, source: torch.Tensor) -> None:
        self.source_kp = self._detect(source)
        self.source_features = self._run(ENCODER, {"source": source.numpy()})["source_features"]
        self._source_feeds = {"source": source.numpy(), "source_features": self.source_features.numpy(),
                              **{f"kp_source_{k}": v.numpy() for k, v in self.source_kp.items()}}

    def _generate(self, kp_driving: dict) -> dict:
        feeds = dict(self._source_feeds)
        feeds.update({f"kp_driving_{k}": np.ascontiguousarray(v.numpy(), dtype=np.float32)
                      for k, v in kp_driving.items() if f"kp_driving_{k}" in self._frame_inputs})
        return self._run(FRAME, feeds)

    @property
    def _frame_inputs(self) -> set:
        return {i.name for i in self.sessions[FRAME].get_inputs()}
