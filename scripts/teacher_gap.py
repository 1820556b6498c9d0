"""The teacher-student gap on held-out real photos: rembg's u2net / u2netp against the installed
`unet-product`, through the same pipeline and metrics (`lab/evaluate.py`), on the DUTS-TR photos
that `unet-product`'s training held out for validation (never DUTS-TE).

    BGAPP_THREADS=1 python scripts/teacher_gap.py --data ../shared/data/duts --limit 200

`unet-product` was trained with `--data duts scenes1 oxford-iiit-pet-sample` (5,000 + 1,200 + 316
pairs, seed 0, 10 % held out); the hold-out depends only on those counts, so it is rebuilt from
them (`--other-counts`) without the scenes folder. The first LIMIT held-out photos in DUTS order
are scored. Also scored: each teacher's own answer as distillation caches it (the network's
sigmoid at its 320 px input, not min-max normalised, no refinement; `--raw`). With `--views K`,
views 0..K-1 of each photo (`lab/views.py`, as the cache draws them) are scored too, by kind:
each teacher's raw answer and unet-product's (its card's size and mirror) against the true mask
warped by the view, so the gap is seen where distillation's new views are. Writes
results/teacher_gap.json. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


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
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--methods", nargs="+", default=["u2net", "unet-product", "u2netp"])
    parser.add_argument("--raw", action="store_true", help="also score the teachers' raw answers (no pipeline)")
    parser.add_argument("--views", type=int, default=0, help="also score views 0..K-1 of each photo, by kind")
    parser.add_argument("--views-only", action="store_true", help="with --views: skip the pipeline figures")
    parser.add_argument("--view-limit", type=int, default=100, help="photos for --views (default 100)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "teacher_gap.json")
    args = parser.parse_args()

    from bgapp.lab import datasets
    from bgapp.lab.baselines import u2net_method, u2net_path, u2netp_method, u2netp_path
    from bgapp.lab.evaluate import evaluate

    held_duts = datasets.holdout_by_counts(args.data, args.other_counts)
    chosen = set(held_duts[: args.limit])
    print(f"{len(held_duts)} DUTS-TR photos held out; scoring the first {len(chosen)}", flush=True)
    rows = {}
    threads = os.environ.get("BGAPP_THREADS", "all")
    for name in [] if args.views_only else args.methods:
        maker = {"u2net": u2net_method, "u2netp": u2netp_method}.get(name)
        method = maker() if maker else name
        start = time.perf_counter()
        summary = evaluate(method, args.data, "trainval", only=chosen)
        rows[name] = {k: summary[k] for k in ("images", "iou", "max_f", "mae", "ms_per_image")}
        rows[name]["seconds"] = round(time.perf_counter() - start, 1)
        print(name, rows[name], flush=True)
    if args.raw and not args.views_only:
        import cv2
        import numpy as np

        from bgapp.lab.baselines import u2net_raw
        from bgapp.lab.metrics import binary_scores

        for name, path in (("u2net", u2net_path()), ("u2netp", u2netp_path())):
            if name not in args.methods:
                continue
            scores, start = [], time.perf_counter()
            listing = datasets.list_split(args.data, "trainval")
            listing = datasets.Listing([pair for pair in listing.pairs if pair.name in chosen])
            for _, rgb, _, truth in datasets.iter_examples(args.data, "trainval", listing=listing):
                answer = cv2.resize(u2net_raw(path, rgb), rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR)
                scores.append(binary_scores(answer, truth)["iou"])
            rows[f"{name} raw answer"] = {
                "images": len(scores),
                "iou": round(float(np.mean(scores)), 4),
                "seconds": round(time.perf_counter() - start, 1),
            }
            print(name, "raw", rows[f"{name} raw answer"], flush=True)
    if args.views:
        rows["views"] = score_views(args, chosen, held_duts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d"),
                "data": str(args.data),
                "threads": threads,
                "holdout": "unet-product's validation hold-out of DUTS-TR, first "
                f"{len(chosen)} of {len(held_duts)} in DUTS order",
                "rows": rows,
            },
            indent=1,
        )
    )
    print(f"wrote {args.out}")
    return 0


def score_views(args, chosen: set[str], held: list[str]) -> dict:
    """IoU by view kind of the teachers' raw answers and unet-product's, on the first photos of the hold-out."""
    from collections import defaultdict

    import cv2
    import numpy as np

    from bgapp.core.models import card_look, read_config
    from bgapp.core.runtime import predictor
    from bgapp.lab import datasets
    from bgapp.lab.baselines import u2net_path, u2net_raw, u2netp_path
    from bgapp.lab.metrics import binary_scores
    from bgapp.lab.views import draw_view, render_mask, render_view

    size, mirror = card_look(read_config("unet-product") or {})
    look = predictor("unet-product", size)
    paths = {name: path for name, path in (("u2net", u2net_path()), ("u2netp", u2netp_path())) if name in args.methods}
    scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    photos = [n for n in held if n in chosen][: args.view_limit]
    start = time.perf_counter()
    for count, name in enumerate(photos, 1):
        rgb, _, truth = datasets.load_truth(args.data, name)
        for index in range(args.views):
            params = draw_view(0, f"duts/{name}", index, rgb.shape[1], rgb.shape[0])
            view = render_view(rgb, params, 320)
            warped = render_mask(truth, params, 320)
            if warped.max() < 0.5:
                continue
            probs = look.probabilities(view, mirror)
            scores[params.kind]["unet-product"].append(binary_scores(probs[..., 0] + probs[..., 2], warped)["iou"])
            for teacher, path in paths.items():
                answer = cv2.resize(u2net_raw(path, view), (320, 320), interpolation=cv2.INTER_LINEAR)
                scores[params.kind][teacher].append(binary_scores(answer, warped)["iou"])
        if count % 20 == 0:
            print(f"  views of {count}/{len(photos)} photos, {time.perf_counter() - start:.0f} s", flush=True)
    table = {
        kind: {who: {"views": len(v), "iou": round(float(np.mean(v)), 4)} for who, v in row.items()}
        for kind, row in sorted(scores.items())
    }
    for kind, row in table.items():
        print(kind, row, flush=True)
    return {"photos": len(photos), "views_per_photo": args.views, "by_kind": table}


if __name__ == "__main__":
    raise SystemExit(main())
