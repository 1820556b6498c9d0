"""K-means colour clustering; the clusters that own the photo's border are the background.

K-means runs on a small copy (longer side 160 px, a few thousand colours are plenty to place k
centres), then every pixel of the full image takes its nearest centre, so the cost is nearly
independent of the photo's size.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from bgapp.core.border import FOREGROUND, orient
from bgapp.core.images import resize_longer_side
from bgapp.core.methods import Method
from bgapp.core.methods._clusters import (
    BACKDROP_TOLERANCE,
    BORDER_SHARE,
    COLOUR_SPACE,
    features_and_contrast,
    mask_from_labels,
    nearest_centre,
)
from bgapp.core.params import Param, ParamValue

SAMPLE_SIDE = 160


def segment(rgb: np.ndarray, params: Mapping[str, ParamValue]) -> np.ndarray:
    """Cluster a small copy, label every pixel by its nearest centre, drop the backdrop's clusters."""
    k = int(params["k"])
    blur = int(params["blur"])
    source = cv2.GaussianBlur(rgb, (blur, blur), 0) if blur > 1 else rgb
    features, contrast = features_and_contrast(source, str(params["colour_space"]))
    sample = resize_longer_side(features, SAMPLE_SIDE).reshape(-1, features.shape[-1])
    cv2.setRNGSeed(12345)  # the same photo and settings always give the same mask
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.5)
    # bestLabels None: OpenCV makes them (as documented); the stubs want an array
    _, _, centres = cv2.kmeans(
        np.ascontiguousarray(sample),
        k,
        None,
        criteria,
        3,  # type: ignore[call-overload]
        cv2.KMEANS_PP_CENTERS,
    )
    labels = nearest_centre(features, centres)
    mask = mask_from_labels(labels, k, params, contrast)
    return orient(mask, str(params["foreground"]))


METHOD = Method(
    name="kmeans",
    summary="Groups pixels into k colours; the colours along the photo's border are background.",
    params=(
        Param(
            "k",
            "int",
            3,
            min=2,
            max=8,
            step=1,
            help="Number of colour groups: 2 for a plain backdrop, more for busy products.",
        ),
        COLOUR_SPACE,
        Param(
            "blur",
            "int",
            3,
            min=1,
            max=31,
            step=2,
            odd=True,
            help="Gaussian blur before clustering (px, odd); calms texture and noise. 1 = off.",
        ),
        BORDER_SHARE,
        BACKDROP_TOLERANCE,
        FOREGROUND,
    ),
    segment=segment,
)
