"""The steps of ``auto`` that no single network takes, as functions on arrays (chosen and tested
without a network; ``methods/auto.py`` runs them):

1. two networks together: the strongest network's answer and ours, averaged ``OURS_WEIGHT`` : rest;
2. a second look: our network again on a square crop around what was found, averaged inside the crop
   (where ours is the strongest network here; beside u2net it gained nothing measurable, so it is skipped);
3. a plain backdrop: where the photo's border is one smooth colour, the parts that clearly differ from
   it and that the networks half-saw can be kept (a dark strap on white, an item of a flat-lay). Measured,
   it helped on no labelled set we have (it cost IoU on every plain-border hold-out setting tried,
   ``scripts/auto_backdrop.py``), so it is off by default: what it would add makes a doubt instead;
4. doubts: where these looks disagree, the reason a seller should check the cut-out.

Every constant here was chosen on hold-outs that no figure we report is measured on
(``scripts/auto_choose.py``, ``scripts/auto_backdrop.py``, docs/auto.md), never on DUTS-TE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from bgapp.core.methods import Method

OURS_WEIGHT = 0.5
"""Our network's share beside a stronger one, chosen on the sets neither network trained on: the Pet
hold-out (37 real photos: u2net alone 0.784 IoU, ours at 1/3 0.803, at 1/2 0.843) and rendered studio
shots and strong shadows drawn with other seeds than the benchmark's (1/2: 0.974 and 0.938, worst 0.884
and 0.661, where u2net alone fails a few outright: 0.966 and 0.921, worst 0.497 and 0.442). On the
DUTS-TR hold-out, which u2net trained on (alone 0.979), it costs 0.016 (docs/auto.md)."""
SECOND_LOOK_MARGIN = 0.2  # of the found product's longer side, each side (0.1 / 0.2 / 0.3 tried)
SECOND_LOOK_WEIGHT = 0.67  # the crop's share inside it (0.5 / 0.67 tried): hold-out 0.9115 -> 0.9147
SKIP_SHARE = 0.9
"""A crop covering 90 % of the photo or more sees what the first look saw: no second look."""

DISAGREE_IOU = 0.75
"""Two looks whose cut-outs overlap less than this (IoU at 0.5) disagree about the product."""
BACKDROP_DOUBT = 0.15
"""The backdrop model kept more than this share of the networks' product on top of it: look at the edges."""

Answer = Callable[["Method", np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Combined:
    """``auto``'s answer for one photo: the 0..1 alpha at the photo's size, what ran (in words, for
    the caption, the CLI line, the API header and the batch manifest) and the reasons to check it."""

    alpha: np.ndarray
    ran: str
    doubts: tuple[str, ...] = ()


def second_look_box(found: np.ndarray, margin: float = SECOND_LOOK_MARGIN) -> tuple[int, int, int, int] | None:
    """The square crop (x0, y0, x1, y1) around what the first look ``found`` (a boolean mask), grown by
    ``margin`` of its longer side on every side and kept inside the photo; None when nothing was found
    or the crop would be nearly the whole photo. A network that squashes the photo to its input sees a
    small product with few pixels: the crop gives it the product at a larger scale."""
    rows = np.flatnonzero(found.any(axis=1))
    cols = np.flatnonzero(found.any(axis=0))
    if rows.size == 0:
        return None
    height, width = found.shape
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    side = max(bottom - top, right - left) * (1.0 + 2.0 * margin)
    side = round(min(side, max(height, width)))
    centre_y, centre_x = (top + bottom) / 2.0, (left + right) / 2.0
    y0 = round(min(max(centre_y - side / 2.0, 0.0), max(height - side, 0)))
    x0 = round(min(max(centre_x - side / 2.0, 0.0), max(width - side, 0)))
    y1, x1 = min(height, y0 + side), min(width, x0 + side)
    if (y1 - y0) * (x1 - x0) >= SKIP_SHARE * height * width or min(y1 - y0, x1 - x0) < 8:
        return None
    return x0, y0, x1, y1


def merge_second_look(
    full: np.ndarray, crop: np.ndarray, box: tuple[int, int, int, int], weight: float = SECOND_LOOK_WEIGHT
) -> np.ndarray:
    """``full`` with the crop's answer averaged in inside ``box`` (``weight`` of the crop's)."""
    x0, y0, x1, y1 = box
    out = full.astype(np.float32, copy=True)
    out[y0:y1, x0:x1] = (1.0 - weight) * out[y0:y1, x0:x1] + weight * crop
    return out


def iou_at_half(first: np.ndarray, second: np.ndarray) -> float:
    """IoU of two answers cut at 0.5; two empty answers agree (1.0)."""
    a, b = first >= 0.5, second >= 0.5
    union = int((a | b).sum())
    return 1.0 if union == 0 else float((a & b).sum()) / union


# --- the plain backdrop ---------------------------------------------------------------------------

BORDER = 0.03  # the ring looked at: 3 % of the shorter side along each edge
MODEL_SIDE = 256  # the backdrop is modelled on a copy this size (a smooth surface needs no more)
PLAIN_SHARE = 0.6  # at least this share of the ring must fit the backdrop's surface (a product may touch it)
PLAIN_SPREAD = 3.0  # and 90 % of those within this colour distance (CIELAB) of it: one smooth colour
SHADOW_DARKENING = 0.5
"""Darker than the backdrop by up to this share of its lightness, with the same hue, is shadow, not
product (a product's contact or drop shadow keeps the backdrop's colour)."""
PRODUCT_DISTANCE = 30.0  # a pixel this far (CIELAB, after the shadow allowance) from the backdrop is product-like
HALF_SEEN = 0.15
"""A product-like part is kept only where the networks half-saw it: their mean answer over it above this
(a dark strap they dropped is 0.1-0.4; a branch or a table edge they rightly left is near 0)."""


ITEM_SHARE = 0.01  # a part on its own counts as an item of a flat-lay from 1 % of the photo


@dataclass(frozen=True)
class Backdrop:
    """A smooth colour surface fitted to the photo's border (CIELAB, quadratic in x and y)."""

    coefficients: np.ndarray  # (6, 3): 1, x, y, x*x, x*y, y*y for L, a, b
    spread: float  # 90th percentile colour distance of the ring's fitting pixels to the surface


def _lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB with L in 0..100 and a, b around 0 (OpenCV's 8-bit Lab rescaled)."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[..., 0] *= 100.0 / 255.0
    lab[..., 1:] -= 128.0
    return lab


def _design(height: int, width: int) -> np.ndarray:
    """The quadratic surface's terms at every pixel, x and y in -1..1: (H, W, 6)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    x = 2.0 * x / max(width - 1, 1) - 1.0
    y = 2.0 * y / max(height - 1, 1) - 1.0
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1)


def border_ring(height: int, width: int, share: float = BORDER) -> np.ndarray:
    """Boolean mask of the ring ``share`` of the shorter side wide along the four edges."""
    band = max(1, round(min(height, width) * share))
    ring = np.zeros((height, width), bool)
    ring[:band], ring[-band:], ring[:, :band], ring[:, -band:] = True, True, True, True
    return ring


def fit_backdrop(rgb: np.ndarray) -> Backdrop | None:
    """The backdrop's colour surface when the photo's border is plain (most of the ring fits one smooth
    colour), else None: a robust least-squares fit that drops the ring's pixels far from the surface
    (where the product runs off the edge) and fits again."""
    small = _small(rgb)
    lab = _lab(small)
    height, width = lab.shape[:2]
    ring = border_ring(height, width)
    terms = _design(height, width)[ring]
    colours = lab[ring]
    keep = np.ones(len(colours), bool)
    coefficients = np.zeros((6, 3), np.float32)
    for _ in range(4):
        if keep.sum() < 12:
            return None
        coefficients, *_ = np.linalg.lstsq(terms[keep], colours[keep], rcond=None)
        residual = np.linalg.norm(terms @ coefficients - colours, axis=1)
        keep = residual <= max(3.0 * float(np.median(residual[keep])), 4.0)
    if keep.mean() < PLAIN_SHARE:
        return None
    spread = float(np.percentile(np.linalg.norm(terms[keep] @ coefficients - colours[keep], axis=1), 90))
    if spread > PLAIN_SPREAD:
        return None
    return Backdrop(coefficients.astype(np.float32), spread)


def _small(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = MODEL_SIDE / max(height, width)
    if scale >= 1.0:
        return rgb
    return cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)


def backdrop_distance(rgb: np.ndarray, backdrop: Backdrop) -> np.ndarray:
    """How far each pixel of ``rgb`` is from the backdrop (CIELAB distance, where darkening by up to
    ``SHADOW_DARKENING`` of the backdrop's lightness counts as shadow, not difference); at ``rgb``'s size."""
    small = _small(rgb)
    lab = _lab(small)
    surface = _design(*lab.shape[:2]) @ backdrop.coefficients
    difference = lab - surface
    darker = np.minimum(difference[..., 0], 0.0)
    lighter = np.maximum(difference[..., 0], 0.0)
    shadow = np.maximum(-darker - SHADOW_DARKENING * np.maximum(surface[..., 0], 1.0), 0.0)
    distance = np.sqrt(lighter**2 + shadow**2 + difference[..., 1] ** 2 + difference[..., 2] ** 2)
    if distance.shape != rgb.shape[:2]:
        distance = cv2.resize(distance, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    return distance.astype(np.float32)


def half_seen_parts(
    alpha: np.ndarray, distance: np.ndarray, half_seen: float = HALF_SEEN, product_distance: float = PRODUCT_DISTANCE
) -> np.ndarray:
    """The product-like parts (far from the backdrop) that the networks dropped but half-saw (their mean
    answer over the part above ``half_seen``), and that either touch what they found (a strap's lower
    half) or stand alone inside the photo as a sizeable item (``ITEM_SHARE``, clear of the border: a
    flat-lay's bag). Boolean, False where the networks already answered product."""
    product_like = (distance > product_distance).astype(np.uint8)
    count, labels = cv2.connectedComponents(product_like, connectivity=8)
    if count <= 1:
        return np.zeros(alpha.shape, bool)
    found = alpha >= 0.5
    near = cv2.dilate(found.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    ring = border_ring(alpha.shape[0], alpha.shape[1], share=0.01)
    flat = labels.ravel()
    sums = np.bincount(flat, weights=alpha.ravel().astype(np.float64), minlength=count)
    sizes = np.bincount(flat, minlength=count)
    touching = np.bincount(flat, weights=near.ravel().astype(np.float64), minlength=count) > 0
    at_border = np.bincount(flat, weights=ring.ravel().astype(np.float64), minlength=count) > 0
    item = (sizes >= ITEM_SHARE * alpha.size) & ~at_border
    wanted = (sums / np.maximum(sizes, 1) > half_seen) & (touching | item)
    wanted[0] = False
    return wanted[labels] & ~found


# --- putting it together --------------------------------------------------------------------------


def combine(
    rgb: np.ndarray,
    base: Method | None,
    ours: Method | None,
    answer_of: Answer,
    second_look: bool = True,
    backdrop: bool = True,
) -> Combined:
    """``auto``'s answer: ``base`` (the strongest network that runs here) on the photo, ``ours`` beside it
    where it is another network, our network's second look at the product, then the plain backdrop."""
    if base is None:
        from bgapp.core.methods import get_method

        grabcut = get_method("grabcut")
        return Combined(grabcut.run(rgb), "grabcut: no network can run here", ())
    first = answer_of(base, rgb)
    looker = ours or base
    own = first if ours is None else answer_of(ours, rgb)
    ran = [base.name] + ([ours.name] if ours is not None else [])
    doubts: list[str] = []
    if ours is not None:
        agreement = iou_at_half(first, own)
        if agreement < DISAGREE_IOU:
            doubts.append(f"{base.name} and {ours.name} disagree about the product (overlap {agreement:.0%})")
    if second_look and ours is None:  # beside a stronger network it gained 0.0001-0.0003 IoU for two more runs
        box = second_look_box(first >= 0.5)
        if box is not None:
            x0, y0, x1, y1 = box
            crop = answer_of(looker, np.ascontiguousarray(rgb[y0:y1, x0:x1]))
            agreement = iou_at_half(own[y0:y1, x0:x1], crop)
            if agreement < DISAGREE_IOU:
                doubts.append(f"a closer look sees the product differently (overlap {agreement:.0%})")
            own = merge_second_look(own, crop, box)
            ran.append("second look")
    alpha = own if ours is None else (1.0 - OURS_WEIGHT) * first + OURS_WEIGHT * own
    model = fit_backdrop(rgb)  # ~10 ms on a 256 px copy: looked at whether or not the step is on
    if model is not None:
        added = half_seen_parts(alpha, backdrop_distance(rgb, model))
        found = int((alpha >= 0.5).sum())
        if found and added.sum() > BACKDROP_DOUBT * found:
            doubts.append(
                f"on this plain backdrop a part that stands out from it touches the product but was left "
                f"out ({added.sum() / found:.0%} of the product's area)"
                + ("" if backdrop else ": try the Plain backdrop model setting, or click it to keep it")
            )
        if backdrop and added.any():
            alpha = np.where(added, 1.0, alpha)
            ran.append("plain backdrop")
    return Combined(np.clip(alpha, 0.0, 1.0).astype(np.float32), " + ".join(ran), tuple(doubts))
