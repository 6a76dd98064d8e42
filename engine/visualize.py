"""Side-by-side visualisations: keypoints drawn in colormap colours on images, columns joined with borders."""
from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from errors import UserError

# Colormaps as piecewise-linear RGB anchors (position, (r, g, b)); matplotlib is used for other names
# when it is installed. gist_rainbow's anchors are matplotlib's published definition of it.
_ANCHORS = {
    "gist_rainbow": [(0.000, (1.00, 0.00, 0.16)), (0.030, (1.00, 0.00, 0.00)), (0.215, (1.00, 1.00, 0.00)),
                     (0.400, (0.00, 1.00, 0.00)), (0.586, (0.00, 1.00, 1.00)), (0.770, (0.00, 0.00, 1.00)),
                     (0.954, (1.00, 0.00, 1.00)), (1.000, (1.00, 0.00, 0.75))],
    "gray": [(0.0, (0.0, 0.0, 0.0)), (1.0, (1.0, 1.0, 1.0))],
}


def colormap(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """A function mapping values in [0, 1] (shape (N,)) to (N, 3) RGB colours in [0, 1]."""
    if name in _ANCHORS:
        positions = np.array([p for p, _ in _ANCHORS[name]])
        colours = np.array([c for _, c in _ANCHORS[name]])

        def apply(values):
            values = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
            return np.stack([np.interp(values, positions, colours[:, i]) for i in range(3)], axis=-1)

        return apply
    try:
        from matplotlib import colormaps
    except ImportError:
        raise UserError(f"colormap {name!r} needs matplotlib (pip install matplotlib); built in: "
                        f"{', '.join(_ANCHORS)}") from None
    if name not in colormaps:
        raise UserError(f"unknown colormap {name!r}; use a matplotlib colormap name such as gist_rainbow")
    cmap = colormaps[name]
    return lambda values: np.asarray(cmap(np.asarray(values)))[..., :3]


def draw_keypoints(image: np.ndarray, kp: np.ndarray, kp_size: int = 5, colormap_name: str = "gist_rainbow"
                   ) -> np.ndarray:
    """A float32 copy of `image` (HxWx3, [0, 1]) with filled discs at the (K, 2) keypoints, given as
    (x, y) in [-1, 1]; keypoint k has colour colormap(k / K), as in the original visualiser."""
    out = np.ascontiguousarray(np.asarray(image, dtype=np.float32).copy())
    height, width = out.shape[:2]
    kp = np.asarray(kp, dtype=np.float64).reshape(-1, 2)
    pixels = (kp + 1) / 2 * np.array([width, height])
    colours = colormap(colormap_name)(np.arange(len(kp)) / max(len(kp), 1))
    for (x, y), colour in zip(pixels, colours):
        if not (np.isfinite(x) and np.isfinite(y)):  # e.g. a diverged training step: nothing to draw
            continue
        cv2.circle(out, (int(round(x)), int(round(y))), int(kp_size), tuple(float(c) for c in colour), -1,
                   lineType=cv2.LINE_AA)
    return out


def side_by_side(images: list[np.ndarray], border: bool = True, border_width: int = 1) -> np.ndarray:
    """Images of the same height joined left to right (float32 [0, 1]); a black border framing each."""
    columns = []
    for image in images:
        image = np.asarray(image, dtype=np.float32)
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if border:
            b = int(border_width)
            image = np.pad(image, ((b, b), (b, b), (0, 0)), constant_values=0.0)
        columns.append(image)
    heights = {c.shape[0] for c in columns}
    if len(heights) != 1:
        raise ValueError(f"side_by_side needs images of one height, got {sorted(heights)}")
    return np.concatenate(columns, axis=1)


class Visualizer:
    """The config's visualizer_params (kp_size, draw_border, colormap) applied to rows of columns.

    row([(image, kp), (image, None), ...]) draws each column's keypoints (if any) and joins them.
    """

    def __init__(self, kp_size: int = 5, draw_border: bool = True, colormap: str = "gist_rainbow"):
        self.kp_size = int(kp_size)
        self.draw_border = bool(draw_border)
        self.colormap = colormap

    def row(self, columns: list[tuple[np.ndarray, np.ndarray | None]]) -> np.ndarray:
        drawn = [image if kp is None else draw_keypoints(image, kp, self.kp_size, self.colormap)
                 for image, kp in columns]
        return side_by_side(drawn, border=self.draw_border)
