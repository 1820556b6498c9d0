"""Scoring any method on a labelled dataset in the Oxford-IIIT Pet layout (``python -m bgapp evaluate``).

Per image, the method runs through the same pipeline a user gets (working copy, method, clean-up,
refinement, with the method's default settings unless overridden) and is scored at the photo's full
size. Reported figures are means over images, so every photo weighs the same:
- ``trimap_accuracy``: 3-class pixel accuracy (object / background / border), as the report that
  inspired the project measured it; only for methods that answer 3 classes, else null;
- ``accuracy``, ``iou``, ``f1``: binary, foreground = object + border, the alpha cut at 0.5;
- ``mae``: mean absolute difference between the soft alpha and the binary truth;
- ``ms_per_image``: time of the pipeline from decoded photo to full-size alpha (decoding excluded).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Mapping

import cv2
import numpy as np

from .deep import data as dataset
from .errors import ModelUnavailableError
from .images import LoadedImage, resize_longer_side
from .metrics import binary_scores, trimap_accuracy
from .methods import Method
from .pipeline import cut_out, resolve_settings

KEYS = ("trimap_accuracy", "accuracy", "iou", "f1", "mae", "ms_per_image")
WORST = 5


def evaluate(method: str | Method, root: Path, split: str = "test", limit: int | None = None,
             params: Mapping[str, Any] | None = None,
             progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """Scores of ``method`` on ``split`` of ``root``: the keys in ``KEYS`` plus method, split, images."""
    settings = resolve_settings(method, params)
    missing = settings.method.available()
    if missing:
        raise ModelUnavailableError(f"{settings.method.name} is not available: {missing}")
    names = dataset.read_split(root, split)[: limit or None]
    rows: list[dict[str, Any]] = []
    for index, name in enumerate(names, start=1):
        rgb, trimap = dataset.load_example(root, name)
        image = LoadedImage(rgb=rgb, alpha=None, name=name, mode="RGB")
        start = time.perf_counter()
        result = cut_out(image, settings)
        elapsed = (time.perf_counter() - start) * 1000.0
        row: dict[str, Any] = binary_scores(result.alpha, dataset.foreground(trimap))
        row["ms_per_image"] = elapsed
        row["name"] = name
        if settings.method.trimap is not None:
            work = resize_longer_side(rgb, int(settings.step_params["work_size"]))
            classes = settings.method.trimap(work, settings.method_params)
            if classes.shape != trimap.shape:
                classes = cv2.resize(classes, trimap.shape[::-1], interpolation=cv2.INTER_NEAREST)
            row["trimap_accuracy"] = trimap_accuracy(classes, trimap)
        rows.append(row)
        if progress:
            progress(index, len(names), name)
    summary: dict[str, Any] = {"method": settings.method.name, "split": split, "images": len(rows)}
    for key in KEYS:
        values = [r[key] for r in rows if key in r]
        summary[key] = round(float(np.mean(values)), 4 if key != "ms_per_image" else 1) if values else None
    summary["iou_min"] = round(float(min(r["iou"] for r in rows)), 4) if rows else None
    # the images to look at first when a model disappoints
    summary["worst"] = [{"name": r["name"], "iou": round(float(r["iou"]), 4)}
                        for r in sorted(rows, key=lambda r: r["iou"])[:WORST]]
    summary["settings"] = {k: v for k, v in (params or {}).items()}
    return summary


def format_summary(summary: Mapping[str, Any], data: Path) -> str:
    """The plain-text report ``evaluate`` prints (and ``--record`` copies into a model card)."""
    notes = {"trimap_accuracy": "3-class pixel accuracy (object / background / border)",
             "accuracy": "binary pixel accuracy, foreground = object + border",
             "iou": "binary intersection over union", "f1": "binary F1 (Dice)",
             "mae": "mean |alpha - truth|", "ms_per_image": "decoded photo -> full-size alpha, this machine"}
    lines = [f"{summary['method']} on the {summary['split']} split of {data}: {summary['images']} images"]
    for key in KEYS:
        value = summary[key]
        shown = "n/a" if value is None else (f"{value:.1f}" if key == "ms_per_image" else f"{value:.4f}")
        lines.append(f"  {key:<16} {shown:>8}   {notes[key]}")
    if summary.get("worst"):
        shown = ", ".join(f"{row['name']} ({row['iou']:.3f})" for row in summary["worst"])
        lines.append(f"  lowest IoU: {shown}")
    return "\n".join(lines)
