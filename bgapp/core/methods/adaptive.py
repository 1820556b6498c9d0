"""Adaptive threshold: each pixel is compared with the mean (or Gaussian-weighted mean) of its neighbourhood.

It answers "is this pixel different from its surroundings", so it marks edges and texture rather
than whole regions. To turn that into a product mask by default it works on the contrast-to-border
channel with a large block and a negative C (only clearly stronger-than-local pixels count), and
the method's clean-up default closes the outline and fills the product's inside.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from bgapp.core.border import FOREGROUND, orient
from bgapp.core.methods import Method
from bgapp.core.methods._channels import BLUR, CHANNEL, single_channel
from bgapp.core.params import Param, ParamValue


def segment(rgb: np.ndarray, params: Mapping[str, ParamValue]) -> np.ndarray:
    """``cv2.adaptiveThreshold`` on the chosen channel; the block is capped to the image size."""
    plane = single_channel(rgb, str(params["channel"]), int(params["blur"]))
    block = int(params["block_size"])
    largest = min(plane.shape) - (1 - min(plane.shape) % 2)
    block = max(3, min(block, largest))
    method = cv2.ADAPTIVE_THRESH_MEAN_C if params["method"] == "mean" else cv2.ADAPTIVE_THRESH_GAUSSIAN_C
    out = cv2.adaptiveThreshold(plane, 255, method, cv2.THRESH_BINARY, block, float(params["c"]))
    return orient(out.astype(np.float32) / 255.0, str(params["foreground"]))


METHOD = Method(
    name="adaptive",
    summary="Local threshold against each pixel's neighbourhood: finds edges and texture, copes with uneven light.",
    params=(
        CHANNEL,
        BLUR,
        Param(
            "method",
            "choice",
            "gaussian",
            choices=("mean", "gaussian"),
            label="Local average",
            help="Neighbourhood average: plain mean, or Gaussian-weighted (smoother).",
        ),
        Param(
            "block_size",
            "int",
            151,
            min=3,
            max=501,
            step=2,
            odd=True,
            help="Neighbourhood size in px (odd): larger finds whole objects, smaller finds edges.",
        ),
        Param(
            "c",
            "float",
            -4.0,
            min=-50.0,
            max=50.0,
            step=0.5,
            help="Offset from the local average: negative keeps only clearly stronger pixels.",
        ),
        FOREGROUND,
    ),
    segment=segment,
    cleanup_defaults={"close_size": 9, "fill_holes": True, "keep_largest": True},
)
