"""Shared inputs of the threshold methods: which single channel to threshold, and the optional blur."""

from __future__ import annotations

import cv2
import numpy as np

from bgapp.core.border import contrast_to_border
from bgapp.core.params import Param

CHANNELS = ("contrast", "gray", "red", "green", "blue", "saturation", "lightness")

CHANNEL = Param(
    "channel",
    "choice",
    "contrast",
    choices=CHANNELS,
    help="What to threshold: contrast = colour difference from the photo's border (robust on "
    "studio backdrops); gray; one colour channel; saturation; Lab lightness.",
)
BLUR = Param(
    "blur",
    "int",
    5,
    min=1,
    max=31,
    step=2,
    odd=True,
    help="Gaussian blur before thresholding, kernel size in px; smooths noise and texture. 1 = off.",
)


def single_channel(rgb: np.ndarray, channel: str, blur: int) -> np.ndarray:
    """The chosen uint8 channel of ``rgb``, blurred with an odd ``blur`` kernel (1 = no blur)."""
    if channel == "contrast":
        plane = contrast_to_border(rgb)
    elif channel == "gray":
        plane = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    elif channel in ("red", "green", "blue"):
        plane = rgb[..., ("red", "green", "blue").index(channel)]
    elif channel == "saturation":
        plane = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1]
    elif channel == "lightness":
        plane = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[..., 0]
    else:
        raise ValueError(channel)
    plane = np.ascontiguousarray(plane)
    if blur > 1:
        plane = cv2.GaussianBlur(plane, (blur, blur), 0)
    return plane
