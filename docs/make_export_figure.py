"""Renders docs/export-before-after.png: a sample photo, its edge without and with refinement on a
dark backdrop (the halo test), and the amazon export. Run from the repository root:
    PYTHONPATH=. python docs/make_export_figure.py"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from bgapp.core.compose import compose_on_colour
from bgapp.core.export import export_settings, frame
from bgapp.core.images import LoadedImage
from bgapp.core.pipeline import cut_out, resolve_settings
from bgapp.lab import synth

OUT = Path(__file__).resolve().parent / "export-before-after.png"
PANEL = 420


def panel(rgb: np.ndarray, title: str) -> Image.Image:
    image = Image.fromarray(
        cv2.resize(rgb, (PANEL, PANEL), interpolation=cv2.INTER_NEAREST if rgb.shape[0] < PANEL else cv2.INTER_AREA)
    )
    canvas = Image.new("RGB", (PANEL, PANEL + 28), "white")
    canvas.paste(image, (0, 28))
    ImageDraw.Draw(canvas).text((6, 8), title, fill=(0, 0, 0))
    return canvas


def main() -> None:
    scene = synth.render_scene(102, (1600, 1200), "wood", "mug")
    image = LoadedImage(rgb=scene.rgb, alpha=None, name="mug", mode="RGB")
    hard = cut_out(image, resolve_settings("grabcut", {"refine": False}))
    soft = cut_out(image, resolve_settings("grabcut"))
    ys, xs = np.nonzero((scene.alpha > 0.05) & (scene.alpha < 0.95))
    cy, cx = int(np.median(ys)), int(xs.max()) - 20  # a stretch of the right-hand edge
    box = (slice(max(0, cy - 60), cy + 60), slice(max(0, cx - 60), cx + 60))
    green = (20, 110, 40)
    before = compose_on_colour(hard.colours, hard.alpha, green)[box]
    after = compose_on_colour(soft.colours, soft.alpha, green)[box]
    amazon = frame(soft.colours, soft.alpha, export_settings("amazon")).pixels
    photo = scene.rgb[:, 200:1400]
    panels = [
        panel(photo, "photo (1600x1200)"),
        panel(before, "edge, mask only (4x zoom)"),
        panel(after, "edge, refined alpha + colours"),
        panel(amazon, "--export amazon (2000x2000)"),
    ]
    sheet = Image.new("RGB", (PANEL * 4 + 30, PANEL + 28), "white")
    for index, item in enumerate(panels):
        sheet.paste(item, (index * (PANEL + 10), 0))
    sheet.save(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
