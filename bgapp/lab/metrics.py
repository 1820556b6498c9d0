"""Segmentation metrics on masks; foreground is 1, background 0.

Binary metrics threshold soft predictions at 0.5 (MAE uses the soft values, which is what a
cut-out's alpha really is). Pixels marked ``ignore`` (e.g. a trimap's unclassified border when a
benchmark asks for it) are left out of every sum.
"""

from __future__ import annotations

import numpy as np


def binary_scores(prediction: np.ndarray, truth: np.ndarray, ignore: np.ndarray | None = None) -> dict[str, float]:
    """accuracy, iou, f1 (Dice) and mae of a 0..1 prediction against a 0/1 truth.

    An empty truth and an empty prediction agree perfectly: IoU and F1 are 1 then, not 0/0.
    """
    soft = np.clip(prediction.astype(np.float64), 0.0, 1.0)
    pred = soft >= 0.5
    true = truth >= 0.5
    keep = np.ones(true.shape, bool) if ignore is None else ~ignore
    pred, true, soft = pred[keep], true[keep], soft[keep]
    tp = float(np.count_nonzero(pred & true))
    fp = float(np.count_nonzero(pred & ~true))
    fn = float(np.count_nonzero(~pred & true))
    total = max(1, true.size)
    union = tp + fp + fn
    return {
        "accuracy": float(np.count_nonzero(pred == true)) / total,
        "iou": tp / union if union else 1.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if union else 1.0,
        "mae": float(np.abs(soft - true).mean()) if true.size else 0.0,
    }


def trimap_accuracy(predicted: np.ndarray, trimap: np.ndarray) -> float:
    """Share of pixels whose predicted class (1 object, 2 background, 3 border) equals the trimap's."""
    return float(np.count_nonzero(predicted == trimap)) / max(1, trimap.size)
