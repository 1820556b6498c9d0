"""Full-resolution refinement: a soft alpha that follows the photo's real edges, and clean edge colours.

Methods answer on a working copy (1024 px) and often in hard 0/1 steps; scaled up to 12 MP that
mask is blurry or jagged and cuts through hair, fur and anti-aliased edges. Two steps fix it:

1. ``refine_alpha``: a guided filter (He, Sun, Tang 2013) makes the alpha a local linear function
   of the photo's own brightness, so it snaps to the edges that are really there. The filter's
   coefficients are computed at working size and scaled up (the "fast guided filter"), so the
   full-resolution cost is a few multiply-adds per pixel. Only a band around the mask's edge is
   allowed to change; the inside stays 1 and the far background 0.
2. ``estimate_foreground``: along the edge a pixel is a mix of product and backdrop colour. We
   estimate the backdrop's colour nearby (a normalised blur of the sure-background pixels) and
   solve ``I = a F + (1 - a) B`` for F, so that a product cut from a green backdrop shows no
   green fringe when composed on white.
"""

from __future__ import annotations

import cv2
import numpy as np

from bgapp.core.images import resize_mask
from bgapp.core.params import Param

REFINE_PARAMS: tuple[Param, ...] = (
    Param(
        "refine",
        "bool",
        True,
        help="Soft full-resolution edges that follow the photo, and edge colours without the "
        "backdrop's tint. Off = the method's mask, scaled up.",
    ),
    Param(
        "edge_band",
        "int",
        4,
        min=1,
        max=40,
        step=1,
        help="Width of the soft edge zone, in px of the working copy: wider for hair and fur.",
    ),
)


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(image, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def guided_filter_coefficients(
    guide: np.ndarray, source: np.ndarray, radius: int, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel (a, b) such that the output is a x guide + b (gray guide, float32 0..1)."""
    mean_i = _box(guide, radius)
    mean_p = _box(source, radius)
    cov_ip = _box(guide * source, radius) - mean_i * mean_p
    var_i = _box(guide * guide, radius) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return _box(a, radius), _box(b, radius)


def refine_alpha(rgb: np.ndarray, mask: np.ndarray, edge_band: int = 4) -> np.ndarray:
    """Soft alpha at ``rgb``'s size from a (smaller, possibly binary) ``mask``; see the module notes."""
    height, width = rgb.shape[:2]
    work_h, work_w = mask.shape
    small = (
        cv2.resize(rgb, (work_w, work_h), interpolation=cv2.INTER_AREA) if (work_h, work_w) != (height, width) else rgb
    )
    guide_small = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    hard = (mask >= 0.5).astype(np.float32)
    radius = max(1, edge_band // 2)
    a, b = guided_filter_coefficients(guide_small, hard, radius, eps=1e-3)
    guide = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) * (1.0 / 255.0)
    a_full, b_full = resize_mask(a, (height, width)), resize_mask(b, (height, width))
    alpha = cv2.multiply(a_full, guide)
    cv2.add(alpha, b_full, dst=alpha)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * edge_band + 1, 2 * edge_band + 1))
    sure_fg = cv2.erode(hard, kernel)
    maybe = cv2.dilate(hard, kernel)
    band_low = resize_mask(sure_fg, (height, width))  # 1 deep inside the product
    band_high = resize_mask(maybe, (height, width))  # 0 far in the background
    np.clip(alpha, band_low, band_high, out=alpha)
    return np.clip(alpha, 0.0, 1.0)


def estimate_foreground(rgb: np.ndarray, alpha: np.ndarray, work_side: int = 512) -> np.ndarray:
    """Product colour behind each pixel: ``(I - (1 - a) B) / a`` with B the local backdrop colour.

    B and a fallback F (the nearby sure-product colour) are normalised blurs computed on a small
    copy; where alpha is tiny the equation is unstable, so the fallback is used there.
    """
    height, width = rgb.shape[:2]
    scale = min(1.0, work_side / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    small_alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
    sigma = max(2.0, 0.02 * max(size))

    def spread(weight: np.ndarray) -> np.ndarray:
        num = cv2.GaussianBlur(small * weight[..., None], (0, 0), sigma)
        den = cv2.GaussianBlur(weight, (0, 0), sigma)[..., None]
        return num / np.maximum(den, 1e-4)

    backdrop = spread((small_alpha < 0.02).astype(np.float32))
    inside = spread((small_alpha > 0.98).astype(np.float32))
    ys, xs = np.nonzero((alpha > 0.0) & (alpha < 1.0))  # only edge pixels are mixtures
    sy = np.minimum((ys * scale).astype(np.int64), size[1] - 1)
    sx = np.minimum((xs * scale).astype(np.int64), size[0] - 1)
    a = alpha[ys, xs][:, None]
    solved = (rgb[ys, xs].astype(np.float32) - (1.0 - a) * backdrop[sy, sx]) / np.maximum(a, 1e-3)
    trust = np.clip((a - 0.15) / 0.35, 0.0, 1.0)  # below ~0.15 alpha the division amplifies noise
    foreground = trust * solved + (1.0 - trust) * inside[sy, sx]
    result = rgb.copy()
    result[ys, xs] = np.clip(np.rint(foreground), 0, 255).astype(np.uint8)
    return result
