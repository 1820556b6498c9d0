"""Scoring any method on a labelled dataset (``python -m bgapp evaluate``): Pet, DUTS or images/ + masks/.

Per image, the method runs through the same pipeline a user gets (working copy, method, clean-up,
refinement, with the method's default settings unless overridden) and is scored at the photo's full
size. Reported figures are means over images, so every photo weighs the same:
- ``trimap_accuracy``: 3-class pixel accuracy (object / background / border), as the report that
  inspired the project measured it; only for methods that answer 3 classes, else null;
- ``accuracy``, ``iou``, ``f1``: binary, foreground = object + border (a mask cut at 0.5), the
  alpha cut at 0.5;
- ``mae``: mean absolute difference between the soft alpha and the binary truth;
- ``max_f``: the salient-object field's max F-measure (beta^2 = 0.3): precision and recall of the
  alpha cut at each of 256 levels, averaged over images, F at each level, the best level's F;
- ``ms_per_image``: time of the pipeline from decoded photo to full-size alpha (decoding excluded).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bgapp.core.errors import ModelUnavailableError
from bgapp.core.images import LoadedImage, resize_longer_side
from bgapp.core.methods import Method
from bgapp.core.pipeline import cut_out, resolve_settings
from bgapp.lab import datasets as dataset
from bgapp.lab.metrics import binary_scores, trimap_accuracy

KEYS = ("trimap_accuracy", "accuracy", "iou", "f1", "mae", "max_f", "ms_per_image")
BETA2 = 0.3  # the field's weighting of precision over recall in the F-measure
WORST = 5


def evaluate(
    method: str | Method,
    root: Path,
    split: str = "test",
    limit: int | None = None,
    params: Mapping[str, Any] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    worst: int = WORST,
    only: set[str] | None = None,
) -> dict[str, Any]:
    """Scores of ``method`` on ``split`` of ``root``: the keys in ``KEYS`` plus method, split, images,
    the ``worst`` images by IoU and the pairs ``skipped`` as unusable (with their reasons).
    ``only``: score just these names of the split (a training run's validation hold-out)."""
    settings = resolve_settings(method, params)
    missing = settings.method.available()
    if missing:
        raise ModelUnavailableError(f"{settings.method.name} is not available: {missing}")
    listing = dataset.list_split(root, split)
    if only is not None:
        listing = dataset.Listing([pair for pair in listing.pairs if pair.name in only], listing.problems)
    total = min(len(listing.pairs), limit or len(listing.pairs))
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    curves = []
    trimap_of = settings.method.trimap if dataset.layout(root) == "pet" else None  # masks have no real border class
    for index, (name, rgb, trimap, truth) in enumerate(
        dataset.iter_examples(root, split, limit, problems, listing), start=1
    ):
        image = LoadedImage(rgb=rgb, alpha=None, name=name, mode="RGB")
        start = time.perf_counter()
        result = cut_out(image, settings)
        elapsed = (time.perf_counter() - start) * 1000.0
        row: dict[str, Any] = binary_scores(result.alpha, truth)
        curves.append(precision_recall_curve(result.alpha, truth))
        row["ms_per_image"] = elapsed
        row["name"] = name
        row["flags"] = _flags(rgb, result, settings)
        if trimap_of is not None:
            work = resize_longer_side(rgb, int(settings.step_params["work_size"]))
            classes = trimap_of(work, settings.method_params)
            if classes.shape != trimap.shape:
                classes = cv2.resize(classes, trimap.shape[::-1], interpolation=cv2.INTER_NEAREST)
            row["trimap_accuracy"] = trimap_accuracy(classes, trimap)
        rows.append(row)
        if progress:
            progress(index, total, name)
    summary: dict[str, Any] = {"method": settings.method.name, "split": split, "images": len(rows)}
    for key in KEYS:
        values = [r[key] for r in rows if key in r]
        summary[key] = round(float(np.mean(values)), 4 if key != "ms_per_image" else 1) if values else None
    # a set-level figure (precision and recall are averaged first), not a mean of per-image F
    summary["max_f"] = round(max_f_measure(curves), 4) if curves else None
    summary["iou_min"] = round(float(min(r["iou"] for r in rows)), 4) if rows else None
    # the images to look at first when a model disappoints
    summary["worst"] = [
        {"name": r["name"], "iou": round(float(r["iou"]), 4)} for r in sorted(rows, key=lambda r: r["iou"])[:worst]
    ]
    summary["settings"] = {k: v for k, v in (params or {}).items()}
    summary["skipped"] = problems
    summary["checks"] = check_figures(rows)
    return summary


CHECK_BELOW = 0.8  # a cut-out below this IoU is one a seller should have been told to check


def _flags(rgb: np.ndarray, result: Any, settings: Any) -> dict[str, bool]:
    """Whether the mask's own checks (``core.checks``: shape and, for a network, its doubt per pixel) say
    "check", and whether they do with the method's own doubts added (``auto``: its looks disagree)."""
    from bgapp.core.checks import mask_concerns

    work = resize_longer_side(rgb, int(settings.step_params["work_size"]))
    probability = settings.method.probability(work, settings.method_params)  # the kept answer: no rerun
    shape = bool(mask_concerns(result.mask, probability)) if result.mask is not None else False
    return {"mask": shape, "with_doubts": shape or bool(result.doubts)}


def check_figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How many cut-outs each rule flags, and what share of those below ``CHECK_BELOW`` IoU it catches."""
    bad = [r for r in rows if r["iou"] < CHECK_BELOW]
    figures: dict[str, Any] = {"below": CHECK_BELOW, "images_below": len(bad)}
    for rule in ("mask", "with_doubts"):
        flagged = [r for r in rows if r.get("flags", {}).get(rule)]
        caught = [r for r in bad if r.get("flags", {}).get(rule)]
        figures[rule] = {
            "flagged": len(flagged),
            "flagged_share": round(len(flagged) / max(len(rows), 1), 4),
            "caught": len(caught),
            "caught_share": round(len(caught) / max(len(bad), 1), 4),
        }
    return figures


def precision_recall_curve(alpha: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall of ``alpha >= t/255`` for t = 0..255 against the binary ``truth``."""
    levels = np.clip(np.round(alpha * 255.0), 0, 255).astype(np.int64).ravel()
    positive = truth.ravel() >= 0.5
    # counts of pixels at each level, then "at or above level t" by a reversed cumulative sum
    hits = np.cumsum(np.bincount(levels[positive], minlength=256)[::-1])[::-1].astype(np.float64)
    alarms = np.cumsum(np.bincount(levels[~positive], minlength=256)[::-1])[::-1].astype(np.float64)
    precision = hits / np.maximum(hits + alarms, 1.0)
    recall = hits / max(float(positive.sum()), 1.0)
    return precision, recall


def max_f_measure(curves: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """The field's max F-measure: mean precision and recall over images at each level, best F."""
    precision = np.mean([c[0] for c in curves], axis=0)
    recall = np.mean([c[1] for c in curves], axis=0)
    f = (1 + BETA2) * precision * recall / np.maximum(BETA2 * precision + recall, 1e-12)
    return float(f.max())


def format_summary(summary: Mapping[str, Any], data: Path) -> str:
    """The plain-text report ``evaluate`` prints (and ``--record`` copies into a model card)."""
    notes = {
        "trimap_accuracy": "3-class pixel accuracy (object / background / border)",
        "accuracy": "binary pixel accuracy, foreground = object + border",
        "iou": "binary intersection over union",
        "f1": "binary F1 (Dice)",
        "mae": "mean |alpha - truth|",
        "max_f": "max F-measure (beta^2 0.3), the salient-object standard",
        "ms_per_image": "decoded photo -> full-size alpha, this machine",
    }
    lines = [f"{summary['method']} on the {summary['split']} split of {data}: {summary['images']} images"]
    for key in KEYS:
        value = summary[key]
        shown = "n/a" if value is None else (f"{value:.1f}" if key == "ms_per_image" else f"{value:.4f}")
        lines.append(f"  {key:<16} {shown:>8}   {notes[key]}")
    if summary.get("worst"):
        shown = ", ".join(f"{row['name']} ({row['iou']:.3f})" for row in summary["worst"])
        lines.append(f"  lowest IoU: {shown}")
    if summary.get("skipped"):
        lines.append(
            f"  left out {len(summary['skipped'])} unusable pair(s): "
            + "; ".join(summary["skipped"][:5])
            + (" ..." if len(summary["skipped"]) > 5 else "")
        )
    return "\n".join(lines)
