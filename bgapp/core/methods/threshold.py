"""Global threshold: one cut-off value over one channel (OpenCV's five modes, or Otsu's automatic value).

How each mode's output becomes a mask (OpenCV returns an image, not a mask):
- ``binary`` / ``otsu``: above the threshold = 1, else 0.
- ``binary-inv``: the opposite of binary.
- ``tozero``: OpenCV keeps pixels above the threshold and zeroes the rest; the mask is where it kept
  something (the same pixels as binary).
- ``tozero-inv``: keeps pixels at or below the threshold; the mask is where it kept them.
- ``trunc``: OpenCV clips values above the threshold to it; the mask is the result divided by the
  threshold, a soft ramp that is 1 at and above the threshold and fades to 0 towards black.
With ``foreground=auto`` (default) the side that differs from the photo's border is the product
whatever the mode; choose ``as-is`` to see a mode's raw output.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from bgapp.core.border import FOREGROUND, orient
from bgapp.core.methods import Method
from bgapp.core.methods._channels import BLUR, CHANNEL, single_channel
from bgapp.core.params import Param, ParamValue

_MODES = {
    "binary": cv2.THRESH_BINARY,
    "binary-inv": cv2.THRESH_BINARY_INV,
    "trunc": cv2.THRESH_TRUNC,
    "tozero": cv2.THRESH_TOZERO,
    "tozero-inv": cv2.THRESH_TOZERO_INV,
}


def segment(rgb: np.ndarray, params: Mapping[str, ParamValue]) -> np.ndarray:
    """Threshold the chosen channel and turn OpenCV's output into a 0..1 mask (see module notes)."""
    plane = single_channel(rgb, str(params["channel"]), int(params["blur"]))
    mode = str(params["mode"])
    value = float(params["threshold"])
    if mode == "otsu":
        _, out = cv2.threshold(plane, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
        mask = out.astype(np.float32) / 255.0
    else:
        _, out = cv2.threshold(plane, value, 255, _MODES[mode])
        if mode == "trunc":
            mask = out.astype(np.float32) / max(value, 1.0)
        elif mode == "tozero-inv":
            mask = (plane <= value).astype(np.float32)
        else:
            mask = (out > 0).astype(np.float32)
    return orient(np.clip(mask, 0.0, 1.0), str(params["foreground"]))


METHOD = Method(
    name="threshold",
    summary="One cut-off over one channel; Otsu picks it for you. Fast; best on plain backdrops.",
    params=(
        CHANNEL,
        BLUR,
        Param(
            "mode",
            "choice",
            "otsu",
            choices=("otsu", *_MODES),
            help="otsu = pick the cut-off automatically; binary, binary-inv, trunc, tozero, "
            "tozero-inv = OpenCV's modes at the threshold below.",
        ),
        Param(
            "threshold",
            "int",
            127,
            min=0,
            max=255,
            step=1,
            help="The cut-off value on the channel (0-255); ignored in otsu mode.",
            only_when=("mode", tuple(_MODES)),
            why_inactive="Otsu picks the cut-off itself: choose another mode to set it",
        ),
        FOREGROUND,
    ),
    segment=segment,
)
