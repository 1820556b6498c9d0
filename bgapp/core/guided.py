"""Fixing a mask with the click network: the seller's clicks and the mask so far, drawn as maps
that the network sees beside the photo (``unet-product-clicks``, trained by ``lab/clicktrain.py``).

GrabCut (``core/correction.py``) re-decides the pixels around a click from their colours alone; a
network that was trained on clicks knows what objects look like, so one click on a missed handle
brings back the handle, not every pixel of its colour. What the network may change is kept local
all the same: a changed region counts only if it touches a click's neighbourhood, so a click never
moves an edge on the other side of the photo (a seller checks where they clicked, not everywhere).
``core/correction.py`` runs GrabCut beside it and keeps whichever answer does more about the clicks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np

GUIDE_CHANNELS = 3
"""keep dots, remove dots, the mask so far (0/1): what the click network sees beside the photo."""
GUIDE_RADIUS = 0.02
"""A click's dot on the guide maps, as a share of the network's side (about 6 px at 288 px)."""
LOCAL_REACH = 0.06
"""A region the network changed is taken only when it comes this close to a click (share of the side)."""

ZOOM_IN = True
"""The network looks at a crop around the mask so far and the clicks (``focus_box``), not the whole photo."""
ZOOM_MARGIN = 0.4
ZOOM_MIN_SIDE = 0.25

Point = tuple[float, float]


class ClickNetwork(Protocol):
    """What the correction needs of a click network (``core.runtime.GuidedPredictor`` is one)."""

    @property
    def size(self) -> int:
        """The network's square input side (read only: a frozen dataclass's field satisfies it)."""
        ...

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
            centre = (round((x + 0.5) * size / width - 0.5), round((y + 0.5) * size / height - 0.5))
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
        cv2.circle(near, (round(x), round(y)), max(1, reach), 1, -1)
    taken = np.unique(regions[(near > 0) & (changed > 0)])
    result = before.copy()
    chosen = np.isin(regions, taken[taken > 0])
    result[chosen] = after[chosen]
    return result


def focus_box(foreground: np.ndarray, points: Sequence[Point]) -> tuple[int, int, int, int]:
    """The part of the photo the network looks at: (x0, y0, x1, y1) around the mask so far and the
    clicks, grown by ``ZOOM_MARGIN`` of its size on each side and at least ``ZOOM_MIN_SIDE`` of the
    photo's longer side. A small product squashed whole to the network's 224 px is a few dozen
    pixels wide; in a crop around it the network sees its edges (the "zoom-in" of Sofiiuk et al. 2022)."""
    height, width = foreground.shape
    ys, xs = np.nonzero(foreground)
    xs = np.concatenate([xs, [x for x, _ in points]]).astype(np.float64)
    ys = np.concatenate([ys, [y for _, y in points]]).astype(np.float64)
    if not len(xs):
        return 0, 0, width, height
    least = ZOOM_MIN_SIDE * max(height, width)
    box = []
    for low, high, limit in ((xs.min(), xs.max() + 1, width), (ys.min(), ys.max() + 1, height)):
        side = max(least, (high - low) * (1 + 2 * ZOOM_MARGIN))
        centre = (low + high) / 2
        start = round(min(max(0.0, centre - side / 2), max(0.0, limit - side)))
        box.append((start, int(min(limit, round(start + side)))))
    (x0, x1), (y0, y1) = box
    return x0, y0, x1, y1


def guided_correction(
    rgb: np.ndarray, mask: np.ndarray, keep: Sequence[Point], remove: Sequence[Point], network: ClickNetwork, seed: int
) -> np.ndarray:
    """``mask`` (0..1, ``rgb``'s size) corrected by the click network; each click's own ``seed``-px
    spot ends up as the click says, whatever the network answered there."""
    foreground = mask > 0.5
    answer = foreground.copy()
    points = list(keep) + list(remove)
    x0, y0, x1, y1 = focus_box(foreground, points) if ZOOM_IN else (0, 0, mask.shape[1], mask.shape[0])

    def shifted(group: Sequence[Point]) -> list[Point]:
        return [(x - x0, y - y0) for x, y in group]

    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    probs = network.probabilities(crop, guide_maps(network.size, mask[y0:y1, x0:x1], shifted(keep), shifted(remove)))
    answer[y0:y1, x0:x1] = probs[..., 0] + probs[..., 2] > 0.5
    reach = max(4, round(LOCAL_REACH * max(mask.shape)))
    result = local_changes(foreground, answer, points, reach).astype(np.uint8)
    for group, value in ((remove, 0), (keep, 1)):
        for x, y in group:
            cv2.circle(result, (round(x), round(y)), seed, value, -1)
    return result.astype(np.float32)
