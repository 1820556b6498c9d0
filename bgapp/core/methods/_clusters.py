"""Shared steps of the colour-clustering methods: pixel features, and clusters-to-mask via the border."""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from bgapp.core.border import backdrop_relative_lab, background_labels, contrast_from_delta, contrast_to_border
from bgapp.core.params import Param, ParamValue

COLOUR_SPACE = Param(
    "colour_space",
    "choice",
    "lab",
    choices=("lab", "rgb", "hsv"),
    help="Colours to cluster in: lab = difference from the backdrop as people see it, with "
    "shadows discounted; rgb; or hsv.",
)
BACKDROP_TOLERANCE = Param(
    "backdrop_tolerance",
    "float",
    35.0,
    min=0.0,
    max=120.0,
    step=1.0,
    help="A colour group this close to the backdrop's colour (contrast units, 0-255) is "
    "background too: catches shadows and light fall-off. 0 = off.",
)
BORDER_SHARE = Param(
    "border_share",
    "float",
    10.0,
    min=1.0,
    max=50.0,
    step=1.0,
    help="A colour group is background when it covers at least this much of the photo's "
    "border (%). Raise it if parts of the product touching the edge vanish.",
)


def colour_features(rgb: np.ndarray, space: str) -> np.ndarray:
    """(H, W, 3) float32 features; hue becomes a point on a circle so red at 0 and 179 stay close."""
    if space == "rgb":
        return rgb.astype(np.float32)
    if space == "lab":
        return backdrop_relative_lab(rgb)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    angle = hsv[..., 0] * (2 * np.pi / 256.0)
    radius = hsv[..., 1] * 0.5
    return np.stack([radius * np.cos(angle), radius * np.sin(angle), hsv[..., 2]], axis=2)


def features_and_contrast(rgb: np.ndarray, space: str) -> tuple[np.ndarray, np.ndarray]:
    """Pixel features plus the contrast-to-border map, sharing the Lab work when ``space`` is lab."""
    if space != "lab":
        return colour_features(rgb, space), contrast_to_border(rgb)
    features = backdrop_relative_lab(rgb)
    return features, contrast_from_delta(features)


def nearest_centre(features: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(H, W) int32 index of the closest centre for every pixel (squared Euclidean distance)."""
    flat = features.reshape(-1, features.shape[-1])
    distance = (centres * centres).sum(axis=1)[None, :] - 2.0 * (flat @ centres.T)
    return np.argmin(distance, axis=1).astype(np.int32).reshape(features.shape[:2])


def mask_from_labels(
    labels: np.ndarray, count: int, params: Mapping[str, ParamValue], contrast: np.ndarray
) -> np.ndarray:
    """1 where a pixel's cluster is neither one of the border's clusters nor close to the backdrop's colour.

    The second rule catches a shadow or a lighting gradient that forms its own cluster without
    reaching the frame: its mean contrast to the backdrop is low.
    """
    background = background_labels(labels, count, float(params["border_share"]) / 100.0)
    sums = np.bincount(labels.ravel(), weights=contrast.ravel().astype(np.float64), minlength=count)[:count]
    sizes = np.bincount(labels.ravel(), minlength=count)[:count]
    mean_contrast = sums / np.maximum(sizes, 1)
    background |= mean_contrast < float(params["backdrop_tolerance"])
    return (~background[labels]).astype(np.float32)
