"""The photo's border as the model of the background.

Product photos frame the product in the middle, so the pixels along the edge of the frame are the
best evidence we have of what the background looks like. Classical methods use it to decide which
side of a threshold, or which colour clusters, are background, instead of a fixed side or cluster
index that is right for one photo and wrong for the next.
"""

from __future__ import annotations

import cv2
import numpy as np

from bgapp.core.params import Param

FOREGROUND = Param(
    "foreground",
    "choice",
    "auto",
    choices=("auto", "as-is", "inverted"),
    help="Which side is the product: auto = what differs from the photo's border; as-is = the "
    "method's raw output; inverted = the opposite of as-is.",
)


DARKER_WEIGHT = 0.3
LIGHTER_WEIGHT = 0.5


def border_ring(shape_hw: tuple[int, int], fraction: float = 0.03) -> np.ndarray:
    """Boolean mask of a ring along the frame, ``fraction`` of the shorter side thick (at least 1 px)."""
    height, width = shape_hw
    thickness = max(1, round(min(height, width) * fraction))
    ring = np.zeros((height, width), bool)
    ring[:thickness, :] = ring[-thickness:, :] = True
    ring[:, :thickness] = ring[:, -thickness:] = True
    return ring


def orient(mask: np.ndarray, foreground: str) -> np.ndarray:
    """Apply the ``foreground`` choice to a raw 0..1 mask.

    ``auto`` flips the mask when most of the border would be foreground: a product rarely fills
    the frame's edge, a background nearly always does.
    """
    if foreground == "inverted":
        return 1.0 - mask
    if foreground == "auto" and float(mask[border_ring(mask.shape)].mean()) > 0.5:
        return 1.0 - mask
    return mask


def backdrop_relative_lab(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 Lab difference from the backdrop's colour, lightness down-weighted for shadows.

    Shadows and light fall-off on a studio backdrop darken it without changing its hue, so a
    darker-than-backdrop lightness difference counts ``DARKER_WEIGHT`` and a lighter one
    ``LIGHTER_WEIGHT``, while a change of colour counts in full. A dark product still stands out:
    its lightness difference is large. Computed with one 256-entry table per channel (the
    difference depends on each channel's value alone), which is ~5x faster than float maths.
    """
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    ring = lab[border_ring(rgb.shape[:2])]
    reference = np.median(ring[:: max(1, len(ring) // 4000)], axis=0).astype(np.float32)
    values = np.arange(256, dtype=np.float32)[:, None]
    table = values - reference[None, :]
    table[:, 0] *= np.where(table[:, 0] < 0, DARKER_WEIGHT, LIGHTER_WEIGHT)
    return cv2.LUT(lab, table.reshape(256, 1, 3))


def contrast_to_border(rgb: np.ndarray) -> np.ndarray:
    """uint8 map of how far each pixel is from the backdrop (length of ``backdrop_relative_lab``, x2)."""
    return contrast_from_delta(backdrop_relative_lab(rgb))


def contrast_from_delta(delta: np.ndarray) -> np.ndarray:
    """The contrast map from an already computed ``backdrop_relative_lab`` (saves redoing the Lab work)."""
    distance = cv2.sqrt(cv2.transform(delta * delta, np.ones((1, 3), np.float32)))
    return cv2.convertScaleAbs(distance, alpha=2.0)


def background_labels(labels: np.ndarray, count: int, min_border_share: float) -> np.ndarray:
    """Boolean per cluster: True where the cluster owns at least ``min_border_share`` of the border ring.

    The cluster that owns most of the border is always background, so the result is never all
    foreground.
    """
    ring = border_ring(labels.shape)
    share = np.bincount(labels[ring].ravel(), minlength=count)[:count] / max(1, int(ring.sum()))
    background = share >= min_border_share
    background[int(np.argmax(share))] = True
    return background
