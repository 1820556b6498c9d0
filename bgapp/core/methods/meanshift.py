"""Mean-shift colour clustering (optionally colour + position), fast enough for 24 MP photos.

Mean shift moves every sample uphill on the density of samples until it reaches a peak (a mode);
samples that reach the same peak form one cluster, so the number of clusters follows from the
``bandwidth`` instead of being chosen. The report that inspired this project ran scikit-learn's
``MeanShift`` on every pixel and never finished on full-size photos. Here the pixels are first
binned into a grid of cells a third of the bandwidth wide (a few hundred occupied cells for a
product photo), mean shift runs on the weighted cells of a 256 px copy, and every pixel of the
input takes the nearest mode: the same modes as per-pixel mean shift with a flat kernel, up to
the cell size, at a thousandth of the cost.
"""

from __future__ import annotations

from collections.abc import Mapping

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

MAX_ITERATIONS = 40
SAMPLE_SIDE = 256  # modes are found on a copy this size; every pixel of the input is then labelled


def segment(rgb: np.ndarray, params: Mapping[str, ParamValue]) -> np.ndarray:
    """Bin a small copy's features, mean-shift the bins, label every pixel by its nearest mode, drop the backdrop's modes."""
    bandwidth = float(params["bandwidth"])
    features, contrast = features_and_contrast(rgb, str(params["colour_space"]))
    spatial = float(params["spatial_weight"])
    sample = with_position(resize_longer_side(features, SAMPLE_SIDE), spatial)
    features = with_position(features, spatial)
    sample = sample.reshape(-1, sample.shape[-1])
    centres, counts, _ = bin_samples(sample, bandwidth / 3.0)
    modes = weighted_mean_shift(centres, counts.astype(np.float32), bandwidth)
    cell_label, count = merge_modes(modes, counts, bandwidth / 2.0)
    peaks = np.stack(
        [np.average(modes[cell_label == i], axis=0, weights=counts[cell_label == i]) for i in range(count)]
    ).astype(np.float32)
    labels = nearest_centre(features, peaks)
    mask = mask_from_labels(labels, count, params, contrast)
    return orient(mask, str(params["foreground"]))


def with_position(features: np.ndarray, weight: float) -> np.ndarray:
    """Append x, y scaled so the frame's longer side spans ``weight`` x 255 (the range of a colour channel)."""
    if weight <= 0:
        return features
    height, width = features.shape[:2]
    scale = 255.0 / max(height, width) * weight
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.concatenate([features, (xs * scale)[..., None], (ys * scale)[..., None]], axis=2)


def bin_samples(samples: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group samples into grid cells ``cell`` wide: (mean of each occupied cell, its count, each sample's cell)."""
    keys = np.floor(samples / cell).astype(np.int64)
    keys -= keys.min(axis=0)
    spans = keys.max(axis=0) + 1
    key = np.ravel_multi_index(keys.T, spans)
    if int(np.prod(spans)) <= 1 << 22:  # dense counting is O(n); sorting (np.unique) is the fallback
        counts_all = np.bincount(key, minlength=int(np.prod(spans)))
        occupied = np.flatnonzero(counts_all)
        index = np.zeros(counts_all.size, np.int64)
        index[occupied] = np.arange(occupied.size)
        inverse = index[key]
        counts = counts_all[occupied]
    else:
        _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    sums = np.stack(
        [np.bincount(inverse, weights=samples[:, d], minlength=counts.size) for d in range(samples.shape[1])], axis=1
    )
    return (sums / counts[:, None]).astype(np.float32), counts, inverse


def weighted_mean_shift(points: np.ndarray, weights: np.ndarray, bandwidth: float) -> np.ndarray:
    """Flat-kernel mean shift of every point over the weighted ``points``; returns where each one converged."""
    seeds = points.copy()
    squared = bandwidth * bandwidth
    point_norms = (points * points).sum(axis=1)
    moving = np.ones(len(seeds), bool)
    for _ in range(MAX_ITERATIONS):
        active = seeds[moving]
        d2 = (active * active).sum(axis=1)[:, None] + point_norms[None, :] - 2.0 * active @ points.T
        kernel = (d2 <= squared).astype(np.float32) * weights[None, :]
        shifted = (kernel @ points) / np.maximum(kernel.sum(axis=1, keepdims=True), 1e-6)
        step = np.abs(shifted - active).max(axis=1)
        seeds[moving] = shifted
        still = step > 1e-3 * bandwidth
        moving[np.flatnonzero(moving)[~still]] = False
        if not moving.any():
            break
    return seeds


def merge_modes(modes: np.ndarray, weights: np.ndarray, radius: float) -> tuple[np.ndarray, int]:
    """Group converged points closer than ``radius``, heaviest first; returns each point's group and the count."""
    order = np.argsort(-weights)
    label = np.full(len(modes), -1, np.int32)
    peaks: list[np.ndarray] = []
    for index in order:
        if peaks:
            gaps = np.linalg.norm(np.asarray(peaks) - modes[index], axis=1)
            nearest = int(np.argmin(gaps))
            if gaps[nearest] <= radius:
                label[index] = nearest
                continue
        label[index] = len(peaks)
        peaks.append(modes[index])
    return label, len(peaks)


METHOD = Method(
    name="meanshift",
    summary="Finds the photo's natural colour groups by itself (no k to choose); border groups are background.",
    params=(
        Param(
            "bandwidth",
            "float",
            24.0,
            min=4.0,
            max=80.0,
            step=1.0,
            help="How different two colours must be to form separate groups: smaller = more groups.",
        ),
        COLOUR_SPACE,
        Param(
            "spatial_weight",
            "float",
            0.0,
            min=0.0,
            max=2.0,
            step=0.1,
            help="Also group by position in the photo: 0 = colour only; 1 = the frame's width "
            "counts like a full colour range.",
        ),
        BORDER_SHARE,
        BACKDROP_TOLERANCE,
        FOREGROUND,
    ),
    segment=segment,
)
