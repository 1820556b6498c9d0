"""GrabCut: iterated graph cuts with colour models of product and background (OpenCV).

It starts from a rectangle (everything outside is background) or, by default here, from where the
photo's colour differs from its border (``init=contrast``), which also copes with products that
come close to the frame. It runs on a copy whose longer side is ``graph_size`` px (GrabCut's cost
grows with the pixel count) and the mask is brought back to the input's size.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from bgapp.core.border import FOREGROUND, border_ring, contrast_to_border, orient
from bgapp.core.images import resize_longer_side, resize_mask
from bgapp.core.methods import Method
from bgapp.core.params import Param, ParamValue


def segment(rgb: np.ndarray, params: Mapping[str, ParamValue]) -> np.ndarray:
    """Seed GrabCut's labels, iterate, and return the definite + probable foreground at the input's size."""
    small = resize_longer_side(rgb, int(params["graph_size"]))
    height, width = small.shape[:2]
    labels = initial_labels(small, str(params["init"]), float(params["margin"]) / 100.0)
    if not ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).any():
        return np.zeros(rgb.shape[:2], np.float32)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(12345)
    bgr = np.ascontiguousarray(small[..., ::-1])
    # rect is unused with a mask (None, as OpenCV documents); the stubs want a rectangle
    cv2.grabCut(
        bgr,
        labels,
        None,
        bgd,
        fgd,
        int(params["iterations"]),  # type: ignore[call-overload]
        cv2.GC_INIT_WITH_MASK,
    )
    mask = ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).astype(np.float32)
    mask = resize_mask(mask, rgb.shape[:2]) if (height, width) != rgb.shape[:2] else mask
    return orient(mask, str(params["foreground"]))


def initial_labels(rgb: np.ndarray, init: str, margin: float) -> np.ndarray:
    """GrabCut's starting labels: the frame's margin is sure background, the rest probable fg/bg."""
    height, width = rgb.shape[:2]
    labels = np.full((height, width), cv2.GC_PR_BGD, np.uint8)
    if init == "rectangle":
        dy, dx = max(1, int(height * margin)), max(1, int(width * margin))
        labels[:] = cv2.GC_BGD
        labels[dy : height - dy, dx : width - dx] = cv2.GC_PR_FGD
        return labels
    contrast = cv2.GaussianBlur(contrast_to_border(rgb), (5, 5), 0)
    _, likely = cv2.threshold(contrast, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    labels[likely.astype(bool)] = cv2.GC_PR_FGD
    ring = border_ring((height, width), max(margin, 1.0 / min(height, width)))
    labels[ring] = cv2.GC_BGD
    return labels


METHOD = Method(
    name="grabcut",
    summary="Graph-cut with colour models of product and background; slower, often the cleanest classical edge.",
    params=(
        Param(
            "iterations",
            "int",
            4,
            min=1,
            max=10,
            step=1,
            help="Refinement rounds: more can be cleaner, each costs time.",
        ),
        Param(
            "init",
            "choice",
            "contrast",
            choices=("contrast", "rectangle"),
            help="Start from where colours differ from the border (contrast), or from a "
            "rectangle inside the margin (everything outside is background).",
        ),
        Param(
            "margin",
            "float",
            2.0,
            min=0.5,
            max=30.0,
            step=0.5,
            label="Border margin (%)",
            help="Width of the frame's edge that is surely background (% of the photo).",
        ),
        Param(
            "graph_size",
            "int",
            512,
            min=128,
            max=1024,
            step=32,
            help="GrabCut runs on a copy this many px on its longer side: smaller is faster.",
        ),
        FOREGROUND,
    ),
    segment=segment,
)
