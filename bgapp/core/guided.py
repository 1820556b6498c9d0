"""Fixing a mask with the click network: the seller's clicks and the mask so far, drawn as maps
that the network sees beside the photo (``unet-product-clicks``, trained by ``lab/clicktrain.py``).

GrabCut (``core/marks.py``) re-decides the pixels around a click from their colours alone; a
network that was trained on clicks knows what objects look like, so one click on a missed handle
brings back the handle, not every pixel of its colour. What the network may change is kept local
all the same: a changed region counts only if it touches a click's neighbourhood, so a click never
moves an edge on the other side of the photo (a seller checks where they clicked, not everywhere).
"""

from __future__ import annotations

from typing import Protocol, Sequence

import cv2
import numpy as np

GUIDE_CHANNELS = 3
"""keep dots, remove dots, the mask so far (0/1): what the click network sees beside the photo."""
GUIDE_RADIUS = 0.02
"""A click's dot on the guide maps, as a share of the network's side (about 6 px at 288 px)."""
LOCAL_REACH = 0.06
"""A region the network changed is taken only when it comes this close to a click (share of the side)."""

Point = tuple[float, float]


class ClickNetwork(Protocol):
    """What the correction needs of a click network (``core.runtime.GuidedPredictor`` is one)."""

    size: int

    def probabilities(self, rgb: np.ndarray, guide: np.ndarray) -> np.ndarray:
        """(H, W, 3) object / background / border probabilities at ``rgb``'s size."""
        ...


def guide_maps(size: int, mask: np.ndarray, keep: Sequence[Point], remove: Sequence[Point]) -> np.ndarray:
    """The (size, size, 3) float32 guide: dots of the keep and remove clicks (given in ``mask``'s
    pixels) and ``mask`` itself cut at 0.5, all squashed to the network's square as the photo is."""
    height, width = mask.shape[:2]
    maps = np.zeros((size, size, GUIDE_CHANNELS), np.float32)
    radius = max(2, round(GUIDE_RADIUS * size))
    for channel, points in ((0, keep), (1, remove)):
        layer = np.zeros((size, size), np.uint8)
        for x, y in points:
            centre = (int(round((x + 0.5) * size / width - 0.5)), int(round((y + 0.5) * size / height - 0.5)))
            cv2.circle(layer, centre, radius, 1, -1)
        maps[..., channel] = layer
    squashed = cv2.resize(mask.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
    maps[..., 2] = squashed > 0.5
    return maps


def local_changes(before: np.ndarray, after: np.ndarray, points: Sequence[Point], reach: int) -> np.ndarray:
    """``after`` where it differs from ``before`` in a connected region that comes within ``reach``
    px of one of ``points`` (x, y); ``before`` everywhere else. Both boolean, same shape."""
    changed = (before != after).astype(np.uint8)
    if not changed.any() or not points:
        return before.copy()
    _, regions = cv2.connectedComponents(changed, connectivity=8)
    near = np.zeros(changed.shape, np.uint8)
    for x, y in points:
        cv2.circle(near, (int(round(x)), int(round(y))), max(1, reach), 1, -1)
    taken = np.unique(regions[(near > 0) & (changed > 0)])
    result = before.copy()
    chosen = np.isin(regions, taken[taken > 0])
    result[chosen] = after[chosen]
    return result


def guided_correction(rgb: np.ndarray, mask: np.ndarray, keep: Sequence[Point], remove: Sequence[Point],
                      network: ClickNetwork, seed: int) -> np.ndarray:
    """``mask`` (0..1, ``rgb``'s size) corrected by the click network; each click's own ``seed``-px
    spot ends up as the click says, whatever the network answered there."""
    foreground = mask > 0.5
    probs = network.probabilities(rgb, guide_maps(network.size, mask, keep, remove))
    answer = probs[..., 0] + probs[..., 2] > 0.5
    reach = max(4, round(LOCAL_REACH * max(mask.shape)))
    result = local_changes(foreground, answer, list(keep) + list(remove), reach).astype(np.uint8)
    for points, value in ((remove, 0), (keep, 1)):
        for x, y in points:
            cv2.circle(result, (int(round(x)), int(round(y))), seed, value, -1)
    return result.astype(np.float32)
