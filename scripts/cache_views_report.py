"""How good a teacher cache's answers are, by kind of view: the cached answer (cut at 0.5) against
the true mask warped by the same view, on the labelled photos of the cache. No network is run.

    python scripts/cache_views_report.py --cache CACHE --data ../shared/data/duts [--extra DIR ...] [--student unet-product]

It shows whether the teacher still finds the subject when the view zooms out or cuts it, i.e.
whether those views teach the student something true. With ``--student NAME``, the installed
network's answer on the same views (as its card runs it: size, mirror) is scored the same way:
the teacher-student gap view kind by view kind. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--data", type=Path, nargs="+", default=())
    parser.add_argument("--extra", type=Path, nargs="+", default=())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--student", default=None, help="also score this installed network on the views")
    args = parser.parse_args()

    import numpy as np

    from bgapp.lab.distil import cached_views, load_photo, read_entry, split_sources
    from bgapp.lab.metrics import binary_scores
    from bgapp.lab.views import render_mask, render_view

    student = None
    if args.student:
        import cv2

        from bgapp.core.models import card_look, read_config
        from bgapp.core.runtime import predictor

        size, mirror = card_look(read_config(args.student) or {})
        look = predictor(args.student, size)

        def student(rgb, params, side):
            view = render_view(rgb, params, 320)
            probs = look.probabilities(view, mirror)
            return cv2.resize(probs[..., 0] + probs[..., 2], (side, side), interpolation=cv2.INTER_AREA)

    train, _, _, _ = split_sources(tuple(args.data), tuple(args.extra), (), args.val_fraction, args.seed)
    entries, _ = cached_views(args.cache, [p for p in train if p.labelled])
    scores: dict[str, list[float]] = defaultdict(list)
    mine: dict[str, list[float]] = defaultdict(list)
    for photo, files in entries:
        rgb, truth = load_photo(photo)
        for entry in files:
            params, _, answer = read_entry(entry)
            warped = render_mask(truth, params, answer.shape[0])
            if warped.max() < 0.5:  # the subject is out of this view: score the empty answer by its area
                scores[f"{params.kind} (no subject)"].append(float((answer >= 0.5).mean()))
                continue
            scores[params.kind].append(binary_scores(answer, warped)["iou"])
            if student is not None:
                mine[params.kind].append(binary_scores(student(rgb, params, answer.shape[0]), warped)["iou"])
    print(f"{len(entries)} labelled photos of {args.cache}")
    for kind in sorted(scores):
        values = scores[kind]
        what = "mean share called subject" if "no subject" in kind else "mean IoU"
        print(
            f"  {kind:<22} {len(values):>5} views  {what} {np.mean(values):.4f}"
            + (f"   {args.student} mean IoU {np.mean(mine[kind]):.4f}" if mine.get(kind) else "")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
