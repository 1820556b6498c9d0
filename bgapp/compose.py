"""Putting the cut-out together: RGBA with transparency, or the product on a solid colour."""

from __future__ import annotations

import numpy as np

from .images import to_uint8

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
