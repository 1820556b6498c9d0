"""What training a click network adds to ``lab/train.py``: the masks it starts from and simulated clicks.

A click network (``ModelConfig.guidance`` = 3, ``unet-product-clicks``) sees the photo and three
maps: the seller's keep dots, remove dots and the mask so far (``core/guided.py``). In use the mask
so far is what a method answered (most often ``unet-product``), and the clicks land on its mistakes.
Training reproduces that:
- the mask so far is the base network's own answer on each training photo, computed once before
  training (``base_masks``); since the base network has seen these photos, its mistakes on them
  are rarer than on a seller's, so half the time the mask is also spoilt (grown, shrunk, a part cut
  off, a blob added, nothing found or a wrong thing found instead: ``spoil``);
- the clicks are placed as ``lab/clicks.py``'s simulated user places them (the middle of the largest
  wrong region, here jittered within its inner half), 0 to ``MAX_CLICKS`` of them, each one taking
  its wrong region off the list as a seller's click would fix it (``simulated_clicks``); now and then
  one more click lands where the mask was already right, so that such a click changes nothing;
- the network answers the true mask: it learns to fix what the clicks point at.
The validation photos get one fixed draw of spoilt masks and clicks (seeded), so epochs compare.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from bgapp.core.guided import guide_maps
from bgapp.lab.clicks import region_depth

MAX_CLICKS = 5
BACKGROUND = 1  # 0-based class of the training labels (object 0, background 1, border 2)


def base_masks(images: np.ndarray, answer: Callable[[np.ndarray], np.ndarray],
               progress: Callable[[str], None] | None = None) -> np.ndarray:
    """(N, side, side, 1) uint8 0/1: ``answer`` (a photo -> object+edge probability at its size) cut at
    0.5 on every photo of ``images`` (N, side, side, 3)."""
    out = np.empty(images.shape[:3] + (1,), np.uint8)
    for index, image in enumerate(images):
        out[index, ..., 0] = answer(image) > 0.5
        if progress and (index + 1) % 1000 == 0:
            progress(f"  base masks {index + 1}/{len(images)}")
    return out


def spoil(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``mask`` (bool) made wrong in one of the ways a method goes wrong: grown or shrunk by a few px,
    a part cut off, a blob of background added, nothing found, or another thing found instead (on
    a real photo a method often takes the wrong object: the click network must then follow the clicks
    and let go of the mask)."""
    side = max(mask.shape)
    kind = rng.integers(6)
    if kind < 2:
        size = int(rng.integers(2, max(3, side // 20)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * size + 1, 2 * size + 1))
        op = cv2.dilate if kind == 0 else cv2.erode
        return op(mask.astype(np.uint8), kernel) > 0
    if kind == 4:
        return np.zeros_like(mask)
    out = np.zeros_like(mask) if kind == 5 else mask.copy()
    centre = (int(rng.integers(mask.shape[1])), int(rng.integers(mask.shape[0])))
    if kind == 2 and mask.any():  # cut off a part: an ellipse centred on the object
        ys, xs = np.nonzero(mask)
        pick = int(rng.integers(len(ys)))
        centre = (int(xs[pick]), int(ys[pick]))
    low, high = (side // 16, side // 5 + 1) if kind < 5 else (side // 10, side // 3 + 1)
    axes = (int(rng.integers(low, high)), int(rng.integers(low, high)))
    blob = np.zeros(mask.shape, np.uint8)
    cv2.ellipse(blob, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    out[blob > 0] = kind != 2
    return out


def simulated_clicks(truth: np.ndarray, mask: np.ndarray, rng: np.random.Generator, clicks: int
                     ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Up to ``clicks`` (keep, remove) clicks (x, y) on the largest wrong regions of ``mask`` against
    ``truth`` (both bool), one after the other as a seller fixing them would place them."""
    keep: list[tuple[int, int]] = []
    remove: list[tuple[int, int]] = []
    current = mask.copy()
    for _ in range(clicks):
        options = []
        for kind, region in (("keep", truth & ~current), ("remove", current & ~truth)):
            if region.any():
                depth = region_depth(region)
                options.append((float(depth.max()), kind, region, depth))
        if not options:
            break
        best, kind, region, depth = max(options, key=lambda option: option[0])
        ys, xs = np.nonzero(depth >= max(1.0, 0.5 * best))
        pick = int(rng.integers(len(ys)))
        x, y = int(xs[pick]), int(ys[pick])
        (keep if kind == "keep" else remove).append((x, y))
        _, parts = cv2.connectedComponents(region.astype(np.uint8), connectivity=8)
        fixed = parts == parts[y, x]
        current[fixed] = truth[fixed]
    if rng.random() < 0.15:  # a click where the mask is already right: it should change nothing
        right = current == truth
        ys, xs = np.nonzero(right)
        if len(ys):
            pick = int(rng.integers(len(ys)))
            (keep if truth[ys[pick], xs[pick]] else remove).append((int(xs[pick]), int(ys[pick])))
    return keep, remove


def training_guide(label: np.ndarray, base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The (S, S, 3) float32 guide for one training example: ``label`` (S, S[, 1]) 0-based classes,
    ``base`` (S, S[, 1]) the base network's mask there (0..1)."""
    truth = np.squeeze(label) != BACKGROUND
    mask = np.squeeze(base) > 0.5
    if rng.random() < 0.5:
        mask = spoil(mask, rng)
    keep, remove = simulated_clicks(truth, mask, rng, int(rng.integers(0, MAX_CLICKS + 1)))
    return guide_maps(truth.shape[0], mask.astype(np.float32), keep, remove)


def validation_guides(labels: np.ndarray, bases: np.ndarray, seed: int) -> np.ndarray:
    """One fixed (seeded) guide per validation example: (N, S, S, 3) float32."""
    rng = np.random.default_rng(seed + 7919)
    return np.stack([training_guide(label, base, rng) for label, base in zip(labels, bases)])
