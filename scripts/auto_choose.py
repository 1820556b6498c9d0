"""Choose ``auto``'s steps on the cached answers of ``scripts/auto_cache.py`` (no network runs here).

    python scripts/auto_choose.py --cache /tmp/auto-cache/val                 # choose (DUTS-TR hold-out)
    python scripts/auto_choose.py --cache /tmp/auto-cache/test --report       # report the chosen rows on DUTS-TE

Each row is one way of putting the answers together, scored on the mask at the photo's size (before
the pipeline's refinement, which is the same for every row): mean IoU (cut at 0.5), MAE, and the
set's max F (beta^2 0.3). Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

Answers = dict[str, np.ndarray]


def load(folder: Path, limit: int | None) -> list[tuple[str, Answers]]:
    import cv2

    rows = []
    for path in sorted(folder.glob("*.npz"))[: limit or None]:
        data = dict(np.load(path))
        shape = data["truth"].shape
        answers: Answers = {"truth": data["truth"].astype(bool)}
        u2 = data["u2net"].astype(np.float32) / 255.0
        low, high = float(u2.min()), float(u2.max())
        u2 = (u2 - low) / max(high - low, 1e-6)  # rembg's min-max
        answers["u2net"] = cv2.resize(u2, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
        answers["unet"] = data["unet"].astype(np.float32) / 255.0
        for key, value in data.items():
            if key.startswith("unet_crop_"):
                answers[key] = value.astype(np.float32) / 255.0
            elif key.startswith("box_"):
                answers[key] = value
        rows.append((path.stem, answers))
    return rows


def with_second_look(
    full: np.ndarray, answers: Answers, margin: float, source: str, weight: float, outside: float
) -> np.ndarray:
    """``full`` where the crop's answer is combined in: ``weight`` of the crop inside the crop, and
    ``outside`` times the first answer outside it (0: nothing is kept outside)."""
    key = f"unet_crop_{margin}_{source}"
    if key not in answers:
        return full
    x0, y0, x1, y1 = (int(v) for v in answers[f"box_{margin}_{source}"])
    out = full * outside
    out[y0:y1, x0:x1] = (1 - weight) * full[y0:y1, x0:x1] + weight * answers[key]
    return out


def scores(rows: list[tuple[str, Answers]], combine: Callable[[Answers], np.ndarray]) -> dict[str, float]:
    from bgapp.lab.evaluate import max_f_measure, precision_recall_curve

    ious, maes, curves = [], [], []
    for _, answers in rows:
        alpha = np.clip(combine(answers), 0.0, 1.0)
        truth = answers["truth"]
        cut = alpha >= 0.5
        union = int((cut | truth).sum())
        ious.append(1.0 if union == 0 else float((cut & truth).sum()) / union)
        maes.append(float(np.abs(alpha - truth).mean()))
        curves.append(precision_recall_curve(alpha, truth.astype(np.float32)))
    return {
        "iou": round(float(np.mean(ious)), 4),
        "mae": round(float(np.mean(maes)), 4),
        "max_f": round(max_f_measure(curves), 4),
        "images": len(rows),
    }


def candidates() -> dict[str, Callable[[Answers], np.ndarray]]:
    rows: dict[str, Callable[[Answers], np.ndarray]] = {
        "u2net": lambda a: a["u2net"],
        "unet": lambda a: a["unet"],
    }
    for margin in (0.1, 0.2, 0.3):
        for weight in (0.5, 0.67):
            for outside in (0.0, 1.0):
                rows[f"unet+look m{margin} w{weight} out{outside}"] = lambda a, m=margin, w=weight, o=outside: (
                    with_second_look(a["unet"], a, m, "unet", w, o)
                )
    for ours in (0.25, 0.33, 0.5):
        rows[f"u2net+unet {ours}"] = lambda a, w=ours: (1 - w) * a["u2net"] + w * a["unet"]
        for margin in (0.1, 0.2, 0.3):
            for source in ("u2net", "unet"):
                rows[f"u2net+(unet+look m{margin} from {source}) {ours}"] = lambda a, w=ours, m=margin, s=source: (
                    (1 - w) * a["u2net"] + w * with_second_look(a["unet"], a, m, s, 0.5, 1.0)
                )
    rows["u2net,unet most sure"] = lambda a: _most_sure(a["u2net"], a["unet"])
    return rows


def _most_sure(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return np.where(np.abs(first - 0.5) >= np.abs(second - 0.5), first, second)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--only", nargs="*", default=None, help="rows to score (default all)")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args()
    rows = load(args.cache, args.limit)
    table = {}
    for name, combine in candidates().items():
        if args.only and name not in args.only:
            continue
        table[name] = scores(rows, combine)
        print(
            f"{name:<48} IoU {table[name]['iou']:.4f}  MAE {table[name]['mae']:.4f}  max F {table[name]['max_f']:.4f}",
            flush=True,
        )
    if args.out:
        args.out.write_text(json.dumps({"cache": str(args.cache), "rows": table}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
