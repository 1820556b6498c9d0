"""What training a click network adds to ``lab/train.py``: the masks it starts from and simulated clicks.

A click network (``ModelConfig.guidance`` = 3, ``unet-product-clicks``) sees the photo and three
maps: the seller's keep dots, remove dots and the mask so far (``core/guided.py``). In use the mask
so far is what a method answered (most often ``unet-product``), and the clicks land on its mistakes.
Training reproduces that:
- the mask so far is the base network's own answer on each training photo, computed once before
  training (``base_masks``); since the base network has seen these photos, its mistakes on them
  are rarer than on a seller's, so most of the time (``SPOILT``) the mask is also spoilt (grown, shrunk, a part cut
  off, a blob added, nothing found or a wrong thing found instead: ``spoil``; or, half of those,
  along the photo's own edges: ``spoil_along_edges``);
- the clicks are placed as ``lab/clicks.py``'s simulated user places them (the middle of the largest
  wrong region, here jittered within its inner half), 0 to ``MAX_CLICKS`` of them, each one taking
  its wrong region off the list as a seller's click would fix it (``simulated_clicks``); now and then
  one more click lands where the mask was already right, so that such a click changes nothing;
- in the studio each click is answered on top of the answer to the clicks before it, so half the
  time the mask shown is the one after some of the clicks were already applied (the regions they
  fixed, give or take a pixel at their edges), and only the later clicks still point at mistakes;
- the network answers the true mask: it learns to fix what the clicks point at.
The validation photos get one fixed draw of spoilt masks and clicks (seeded), so epochs compare.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from bgapp.core.guided import guide_maps
from bgapp.lab.clicks import region_depth

MAX_CLICKS = 5
SPOILT = 0.6  # share of examples whose base mask is spoilt first (the base network knows its training photos)
ALONG_EDGES = 0.5  # share of the spoilt masks spoilt along the photo's edges (``spoil_along_edges``)
ITERATIVE = 0.5  # share of examples shown the mask after some of their clicks were applied (``_clicks_and_mask``)
BACKGROUND = 1  # 0-based class of the training labels (object 0, background 1, border 2)


def base_masks(
    images: np.ndarray, answer: Callable[[np.ndarray], np.ndarray], progress: Callable[[str], None] | None = None
) -> np.ndarray:
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


def click_sequence(
    truth: np.ndarray, mask: np.ndarray, rng: np.random.Generator, clicks: int
) -> list[tuple[str, tuple[int, int], np.ndarray]]:
    """Up to ``clicks`` clicks on the largest wrong regions of ``mask`` against ``truth`` (both bool),
    one after the other as a seller fixing them would place them: (kind, (x, y), the mask once that
    click's wrong region is fixed)."""
    sequence: list[tuple[str, tuple[int, int], np.ndarray]] = []
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
        _, parts = cv2.connectedComponents(region.astype(np.uint8), connectivity=8)
        fixed = parts == parts[y, x]
        current = current.copy()
        current[fixed] = truth[fixed]
        sequence.append((kind, (x, y), current))
    return sequence


def colour_region(image: np.ndarray, start: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """The region of like colour around ``start`` (x, y) in ``image`` (RGB): a part of the scene
    that follows the photo's own edges, as a method's real mistakes do."""
    lab = cv2.cvtColor(cv2.GaussianBlur(np.ascontiguousarray(image, np.uint8), (5, 5), 0), cv2.COLOR_RGB2LAB)
    tolerance = (int(rng.integers(6, 24)),) * 3
    flood = np.zeros((lab.shape[0] + 2, lab.shape[1] + 2), np.uint8)
    cv2.floodFill(
        lab,
        flood,
        start,
        (0, 0, 0),
        tolerance,
        tolerance,
        4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8),
    )
    region = flood[1:-1, 1:-1] > 0
    return cv2.morphologyEx(region.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)) > 0


def spoil_along_edges(
    mask: np.ndarray, truth: np.ndarray, image: np.ndarray, rng: np.random.Generator
) -> np.ndarray | None:
    """``mask`` made wrong along the photo's edges: a region of like colour next to the product
    added (the half of a bowl the dog sits in), a region of the product cut off (its dark
    sleeve), or only such a region found elsewhere. A blob drawn as an ellipse is wrong in a way
    the network sees without any click; these are not, so only the clicks can say what to fix.
    None when no usable region was found."""
    height, width = truth.shape
    side = max(height, width)
    kind = int(rng.integers(3))
    if kind == 0:  # next to the product
        ys, xs = np.nonzero((cv2.dilate(truth.astype(np.uint8), np.ones((side // 4 + 1,) * 2, np.uint8)) > 0) & ~truth)
    else:
        ys, xs = np.nonzero(truth if kind == 1 else ~truth)
    for _ in range(4):
        if not len(ys):
            return None
        pick = int(rng.integers(len(ys)))
        region = colour_region(image, (int(xs[pick]), int(ys[pick])), rng)
        region &= truth if kind == 1 else ~truth
        if 0.004 * height * width < region.sum() < 0.5 * height * width:
            if kind == 0:
                return mask | region
            return mask & ~region if kind == 1 else region
    return None


def simulated_clicks(
    truth: np.ndarray, mask: np.ndarray, rng: np.random.Generator, clicks: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Up to ``clicks`` (keep, remove) clicks (x, y) on the largest wrong regions of ``mask`` against
    ``truth`` (both bool), one after the other as a seller fixing them would place them."""
    keep, remove, _ = _clicks_and_mask(truth, mask, rng, clicks, iterative=False)
    return keep, remove


def _clicks_and_mask(
    truth: np.ndarray, mask: np.ndarray, rng: np.random.Generator, clicks: int, iterative: bool
) -> tuple[list[tuple[int, int]], list[tuple[int, int]], np.ndarray]:
    """The clicks of ``click_sequence`` and the mask so far that the network is shown with them:
    ``mask`` itself, or (``iterative``) the mask after some of the earlier clicks have already been
    applied, as in the studio, where each click is made on the answer to the clicks before it."""
    sequence = click_sequence(truth, mask, rng, clicks)
    keep = [point for kind, point, _ in sequence if kind == "keep"]
    remove = [point for kind, point, _ in sequence if kind == "remove"]
    shown = mask
    if iterative and len(sequence) > 1:
        done = int(rng.integers(1, len(sequence)))  # at least the last click still to be answered
        shown = _roughly(sequence[done - 1][2], mask, rng)
    if rng.random() < 0.15:  # a click where the mask is already right: it should change nothing
        current = sequence[-1][2] if sequence else mask
        right = current == truth
        ys, xs = np.nonzero(right)
        if len(ys):
            pick = int(rng.integers(len(ys)))
            (keep if truth[ys[pick], xs[pick]] else remove).append((int(xs[pick]), int(ys[pick])))
    return keep, remove, shown


def _roughly(fixed: np.ndarray, before: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``fixed`` with the edges of what it changed from ``before`` moved by a pixel or two: an
    earlier answer is close to right where it was clicked, not exact."""
    changed = (fixed != before).astype(np.uint8)
    if not changed.any() or rng.random() < 0.5:
        return fixed
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    op = cv2.dilate if rng.random() < 0.5 else cv2.erode
    moved = op(fixed.astype(np.uint8), kernel) > 0
    near = cv2.dilate(changed, kernel) > 0
    return np.where(near, moved, fixed)


def training_guide(
    label: np.ndarray, base: np.ndarray, rng: np.random.Generator, image: np.ndarray | None = None
) -> np.ndarray:
    """The (S, S, 3) float32 guide for one training example: ``label`` (S, S[, 1]) 0-based classes,
    ``base`` (S, S[, 1]) the base network's mask there (0..1), ``image`` the photo (its colour
    regions make the spoils that follow its edges)."""
    truth = np.squeeze(label) != BACKGROUND
    mask = np.squeeze(base) > 0.5
    if rng.random() < SPOILT:
        along = None
        if image is not None and rng.random() < ALONG_EDGES:
            along = spoil_along_edges(mask, truth, image, rng)
        mask = spoil(mask, rng) if along is None else along
    keep, remove, shown = _clicks_and_mask(
        truth, mask, rng, int(rng.integers(0, MAX_CLICKS + 1)), iterative=rng.random() < ITERATIVE
    )
    return guide_maps(truth.shape[0], shown.astype(np.float32), keep, remove)


def validation_guides(labels: np.ndarray, bases: np.ndarray, images: np.ndarray, seed: int) -> np.ndarray:
    """One fixed (seeded) guide per validation example: (N, S, S, 3) float32."""
    rng = np.random.default_rng(seed + 7919)
    return np.stack([training_guide(label, base, rng, image) for label, base, image in zip(labels, bases, images)])
