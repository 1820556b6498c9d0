"""Putting the cut-out together: RGBA with transparency, or the product on a solid colour."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from bgapp.core.images import to_uint8

WHITE = (255, 255, 255)


def compose_transparent(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGBA uint8: the photo's colours with ``alpha`` (0..1) as transparency."""
    return np.dstack([rgb, to_uint8(alpha)])


def compose_on_colour(rgb: np.ndarray, alpha: np.ndarray, colour: tuple[int, int, int] = WHITE) -> np.ndarray:
    """RGB uint8: the product blended over a solid ``colour``; fully transparent pixels become exactly ``colour``."""
    a = alpha.astype(np.float32)[..., None]
    backdrop = np.asarray(colour, np.float32)[None, None, :]
    out = rgb.astype(np.float32) * a + backdrop * (1.0 - a)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def mask_image(alpha: np.ndarray) -> np.ndarray:
    """The mask as an 8-bit grey picture (white = product)."""
    return to_uint8(alpha)


@lru_cache(maxsize=4)
def _board(height: int, width: int, cell: int) -> np.ndarray:
    ys, xs = np.indices((height, width))
    light = (ys // cell + xs // cell) % 2 == 0
    board = np.repeat(np.where(light, 255, 204).astype(np.uint8)[..., None], 3, axis=2)
    board.setflags(write=False)  # shared between calls: the previews' size rarely changes
    return board


def checkerboard(height: int, width: int, cell: int = 16) -> np.ndarray:
    """The grey-and-white squares that image editors show behind transparent pixels."""
    return _board(height, width, cell).copy()


def compose_on_checkerboard(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGB uint8 preview of a cut-out: transparency shown as a checkerboard (drawn on every preview
    redraw, so one OpenCV blend: ~5 ms for 1024 px where the float arithmetic took ~50 ms)."""
    a = np.ascontiguousarray(alpha, np.float32)
    board = _board(*rgb.shape[:2], 16)
    return cv2.blendLinear(np.ascontiguousarray(rgb), board, a, 1.0 - a)
