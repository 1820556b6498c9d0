"""Clean-up of a mask after any method: specks, small gaps, holes, stray objects.

Each step is optional and declared like a method parameter, so the app shows a slider for it and
the CLI checks ``--param open_size=5`` the same way. Filling holes is off by default on purpose:
the background seen through a mug's handle or a ring must stay background.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from bgapp.core.params import Param, ParamValue

CLEANUP_PARAMS: tuple[Param, ...] = (
    Param(
        "open_size",
        "int",
        3,
        min=1,
        max=31,
        step=2,
        odd=True,
        help="Erase specks and thin bits thinner than this (px at working size); 1 = off.",
    ),
    Param(
        "close_size",
        "int",
        9,
        min=1,
        max=31,
        step=2,
        odd=True,
        help="Bridge small gaps and cracks in the product up to this size (px); 1 = off.",
    ),
    Param(
        "min_area",
        "float",
        0.1,
        min=0.0,
        max=10.0,
        step=0.05,
        help="Drop islands and fill pockets smaller than this share of the photo (%); 0 = off.",
    ),
    Param(
        "fill_holes",
        "bool",
        False,
        help="Fill every enclosed hole. Off keeps background seen through handles and rings.",
    ),
    Param("keep_largest", "bool", False, help="Keep only the largest object (for photos of a single product)."),
)


def clean_mask(mask: np.ndarray, settings: Mapping[str, ParamValue]) -> np.ndarray:
    """Apply the clean-up steps in a fixed order: open, close, small areas, holes, largest object.

    Works on soft masks too: morphology is grey-level, and the component steps decide on the 0.5
    level and keep the soft values inside what they keep.
    """
    result: np.ndarray = mask.astype(np.float32, copy=True)  # float32 throughout; OpenCV's stubs lose the dtype
    open_size, close_size = int(settings["open_size"]), int(settings["close_size"])
    if open_size > 1:
        result = cv2.morphologyEx(result, cv2.MORPH_OPEN, _disk(open_size))
    if close_size > 1:
        result = cv2.morphologyEx(result, cv2.MORPH_CLOSE, _disk(close_size))
    min_pixels = float(settings["min_area"]) / 100.0 * result.size
    if min_pixels >= 1:
        result = _drop_small(result, min_pixels)
        result = 1.0 - _drop_small(1.0 - result, min_pixels, keep_touching_border=True)
    if settings["fill_holes"]:
        result = fill_holes(result)
    if settings["keep_largest"]:
        result = keep_largest(result)
    return result


def _disk(size: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def _components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    count, labels, stats, _ = cv2.connectedComponentsWithStats((mask >= 0.5).astype(np.uint8), connectivity=8)
    return count, labels, stats


def _drop_small(mask: np.ndarray, min_pixels: float, keep_touching_border: bool = False) -> np.ndarray:
    """Zero every 8-connected object smaller than ``min_pixels`` (optionally sparing those on the frame's edge)."""
    count, labels, stats = _components(mask)
    if count <= 1:
        return mask
    small = stats[:, cv2.CC_STAT_AREA] < min_pixels
    small[0] = False
    if keep_touching_border:
        edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
        small[edge] = False
    if not small.any():
        return mask
    return np.where(small[labels], 0.0, mask).astype(np.float32)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Set every background region that does not reach the frame's edge to foreground."""
    background = (mask < 0.5).astype(np.uint8)
    count, labels, _ = _components(background.astype(np.float32))
    if count <= 1:
        return mask
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    enclosed = np.ones(count, bool)
    enclosed[edge] = False
    enclosed[0] = False
    return np.where(enclosed[labels], 1.0, mask).astype(np.float32)


def keep_largest(mask: np.ndarray) -> np.ndarray:
    """Zero every object except the largest one."""
    count, labels, stats = _components(mask)
    if count <= 2:
        return mask
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return np.where(labels == largest, mask, 0.0).astype(np.float32)
