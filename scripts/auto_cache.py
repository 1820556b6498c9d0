"""Keep every network answer that ``auto``'s steps are chosen from, once per photo, so that choosing the
steps (``scripts/auto_choose.py``) re-runs no network.

    python scripts/auto_cache.py --set val  --out /tmp/auto-cache/val     # DUTS-TR held out of unet-product's training
    python scripts/auto_cache.py --set test --out /tmp/auto-cache/test    # DUTS-TE: reported on, never chosen on

Per photo (its working copy: DUTS photos are under 1024 px, so the photo itself) one ``NAME.npz``:
``truth`` (0/1), u2net's raw answer (``u2net``, 320x320, the network's own sigmoid), unet-product's
product probability on the whole photo (``unet``, mirror on, its card's 288 px) and its second looks
(``unet_crop_M_FROM``: the probability inside the square crop with margin M around FROM's answer
(``unet`` or ``u2net``) cut at 0.5, with the crop's box as ``box_M_FROM``). Maps are stored as uint8
(0..255) at the photo's size to keep the cache small. Resumable: photos already cached are skipped.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MARGINS = (0.1, 0.2, 0.3)


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
    parser.add_argument("--pets", type=Path, default=ROOT.parent / "shared" / "data" / "oxford-iiit-pet-sample")
    parser.add_argument(
        "--set",
        choices=("val", "pets", "test"),
        required=True,
        help="val: the DUTS-TR photos unet-product held out (u2net trained on them); pets: the Pet "
        "trainval photos it held out (neither network trained on them); test: DUTS-TE",
    )
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from bgapp.core import external
    from bgapp.core.auto import second_look_box
    from bgapp.core.images import resize_longer_side
    from bgapp.core.methods import get_method
    from bgapp.core.methods._rembg import raw
    from bgapp.lab import datasets

    if args.set == "test":
        names = [pair.name for pair in datasets.list_split(args.data, "test").pairs]
    elif args.set == "pets":  # the third --data folder of unet-product's training: its share of the joint hold-out
        pets = [pair.name for pair in datasets.list_split(args.pets, "trainval").pairs]
        listed = [
            [f"d{j}" for j in range(len(datasets.list_split(args.data, "trainval").pairs))],
            [f"x{j}" for j in range(args.other_counts[0])],
            pets,
        ]
        names = sorted(datasets._held_out(listed, 2, 0.1, 0))
        args.data = args.pets
    else:
        names = sorted(datasets.holdout_by_counts(args.data, args.other_counts))
    names = names[: args.limit or None]
    u2net_path = next(iter((external.locate("u2net") or {}).values()), None)
    if u2net_path is None:
        print("u2net is not fetched: python -m bgapp models fetch u2net", file=sys.stderr)
        return 2
    unet = get_method("unet-product")
    params = unet.resolve({})
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for index, name in enumerate(names, start=1):
        target = args.out / f"{name}.npz"
        if target.exists():
            continue
        rgb, _, truth = datasets.load_truth(args.data, name)
        rgb = resize_longer_side(rgb, 1024)
        if truth.shape != rgb.shape[:2]:
            import cv2

            truth = cv2.resize(truth, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_NEAREST)
        u2 = raw(u2net_path, rgb)
        full = unet.confidence(rgb, params)
        found = {"unet": full, "u2net": _up(u2, rgb.shape[:2])}
        store = {"truth": (truth >= 0.5).astype(np.uint8), "u2net": _u8(u2), "unet": _u8(full)}
        for margin in MARGINS:
            for source, answer in found.items():
                box = second_look_box(answer >= 0.5, margin)
                if box is None:
                    continue
                x0, y0, x1, y1 = box
                crop = unet.confidence(np.ascontiguousarray(rgb[y0:y1, x0:x1]), params)
                store[f"unet_crop_{margin}_{source}"] = _u8(crop)
                store[f"box_{margin}_{source}"] = np.array(box, np.int32)
        np.savez_compressed(target, **store)
        if index % 25 == 0 or index == len(names):
            rate = (time.perf_counter() - start) / index
            print(f"{index}/{len(names)} ({rate:.2f} s a photo)", file=sys.stderr, flush=True)
    return 0


def _u8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.round(values * 255.0), 0, 255).astype(np.uint8)


def _up(small: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    import cv2

    return cv2.resize(small.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


if __name__ == "__main__":
    raise SystemExit(main())
