"""Renders docs/samples-grid.png: every listed method's cut-out (on a checkerboard) of the app's six
sample photos, with the IoU against the exact mask. Run from the repository root:
    PYTHONPATH=. python docs/make_samples_grid.py [METHOD ...]"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
from PIL import Image, ImageDraw

from bgapp.app.photos import photo_image, photo_truth, sample_photos
from bgapp.core.compose import compose_on_checkerboard
from bgapp.core.pipeline import cut_out, resolve_settings
from bgapp.lab.metrics import binary_scores

OUT = Path(__file__).resolve().parent / "samples-grid.png"
TILE = (240, 180)
DEFAULT = ["grabcut", "meanshift", "unet-mobilenetv2", "unet-effnet-lite0", "unet-product"]


def main(methods: list[str]) -> None:
    photos = sample_photos()
    label_w = 150
    sheet = Image.new("RGB", (label_w + TILE[0] * len(photos), (TILE[1] + 18) * (len(methods) + 1)), "white")
    draw = ImageDraw.Draw(sheet)
    for col, photo in enumerate(photos):
        sheet.paste(
            Image.fromarray(cv2.resize(photo_image(photo).rgb, TILE, interpolation=cv2.INTER_AREA)),
            (label_w + col * TILE[0], 18),
        )
        draw.text((label_w + col * TILE[0] + 4, 3), photo.name.replace("sample: ", ""), fill=(0, 0, 0))
    draw.text((4, 90), "photo", fill=(0, 0, 0))
    for row, method in enumerate(methods, start=1):
        top = row * (TILE[1] + 18)
        draw.text((4, top + 90), method, fill=(0, 0, 0))
        settings = resolve_settings(method)
        for col, photo in enumerate(photos):
            result = cut_out(photo_image(photo), settings)
            iou = binary_scores(result.alpha, photo_truth(photo))["iou"]
            small_rgb = cv2.resize(result.colours, TILE, interpolation=cv2.INTER_AREA)
            small_alpha = cv2.resize(result.alpha, TILE, interpolation=cv2.INTER_AREA)
            sheet.paste(
                Image.fromarray(compose_on_checkerboard(small_rgb, small_alpha)), (label_w + col * TILE[0], top + 18)
            )
            draw.text((label_w + col * TILE[0] + 4, top + 3), f"IoU {iou:.3f}", fill=(0, 0, 0))
    sheet.save(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:] or DEFAULT)
