"""Renders docs/contact-sheet.png: one row per photo (the app's samples, then any photo files given),
the photo and each method's cut-out on a checkerboard beside it, with the IoU where an exact mask
exists. It is how a cut-out is judged by eye: the shipped network, auto offline and the default with
u2net (issue 37). Run from the repository root, with u2net fetched (`python -m bgapp models fetch u2net`):
    PYTHONPATH=. python docs/make_contact_sheet.py [--methods unet-product auto-shipped auto] [PHOTO ...]"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from bgapp.app.photos import photo_image, photo_truth, sample_photos
from bgapp.core.compose import compose_on_checkerboard
from bgapp.core.images import load_image
from bgapp.core.pipeline import cut_out, resolve_settings
from bgapp.lab.metrics import binary_scores

OUT = Path(__file__).resolve().parent / "contact-sheet.png"
TILE = 220
HEADER = 18


def _fit(image: np.ndarray, fill: int = 255) -> np.ndarray:
    """The image scaled to fit a TILE x TILE square, centred on ``fill`` (aspect kept)."""
    height, width = image.shape[:2]
    scale = TILE / max(height, width)
    small = cv2.resize(
        image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
    )
    tile = np.full((TILE, TILE) + image.shape[2:], fill, np.uint8)
    top, left = (TILE - small.shape[0]) // 2, (TILE - small.shape[1]) // 2
    tile[top : top + small.shape[0], left : left + small.shape[1]] = small
    return tile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="*", type=Path, help="more photo files (real product photos)")
    parser.add_argument("--methods", nargs="+", default=["unet-product", "auto-shipped", "auto"])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rows = [(p.name.replace("sample: ", ""), photo_image(p), photo_truth(p)) for p in sample_photos()]
    rows += [(path.name, load_image(path), None) for path in args.photos]
    label_w = 10
    sheet = Image.new("RGB", (label_w + TILE * (len(args.methods) + 1), (TILE + HEADER) * len(rows) + HEADER), "white")
    draw = ImageDraw.Draw(sheet)
    for col, title in enumerate(["photo", *args.methods]):
        draw.text((label_w + col * TILE + 4, 3), title, fill=(0, 0, 0))
    from bgapp.core.methods.auto import shipped_only

    named = {"auto-shipped": shipped_only()}  # auto offline: not in the registry, a bench row of its own
    settings = {method: resolve_settings(named.get(method, method)) for method in args.methods}
    for method in args.methods:  # one untimed run each, so a caption's time is not the model's loading
        cut_out(rows[0][1], settings[method])
    for row, (name, loaded, truth) in enumerate(rows):
        top = HEADER + row * (TILE + HEADER)
        draw.text((label_w + 4, top + 3), name[:34], fill=(0, 0, 0))
        sheet.paste(Image.fromarray(_fit(loaded.rgb)), (label_w, top + HEADER))
        for col, method in enumerate(args.methods, start=1):
            start = time.perf_counter()
            result = cut_out(loaded, settings[method])
            seconds = time.perf_counter() - start
            tile = compose_on_checkerboard(_fit(result.colours), _fit(result.alpha, 0))
            sheet.paste(Image.fromarray(tile), (label_w + col * TILE, top + HEADER))
            caption = f"{seconds * 1000:.0f} ms"
            if truth is not None:
                caption = f"IoU {binary_scores(result.alpha, truth)['iou']:.3f}  " + caption
            draw.text((label_w + col * TILE + 4, top + 3), caption, fill=(0, 0, 0))
            print(f"{name}  {method}  {caption}", flush=True)
    sheet.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
