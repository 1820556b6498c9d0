"""Speed and quality figures for every method, measured through the same pipeline users run.

Speed: ``preview_ms`` is the method plus clean-up on a 1024 px preview (what the app redraws on
every slider move); ``mp12_ms`` / ``mp24_ms`` go from a decoded 12 / 24 MP RGB array to a
full-size alpha. Each is the median of ``repeat`` runs after one warm-up. Decoding a JPEG and
encoding the PNG are timed on their own, since they cost the same whatever the method.
Quality: IoU and MAE on the project's synthetic product photos (``synth.studio_set``, fixed seed).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from . import synth
from .compose import compose_transparent
from .errors import OutputExistsError
from .images import LoadedImage, encode_jpeg, encode_png, load_image, resize_mask
from .metrics import binary_scores
from .methods import all_methods
from .pipeline import cut_out, resolve_settings, segment_working

SIZES = {"preview_ms": (1024, 768), "mp12_ms": (4000, 3000), "mp24_ms": (6000, 4000)}


def median_ms(action: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``action`` in ms over ``repeat`` runs, after one untimed warm-up."""
    action()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        runs.append((time.perf_counter() - start) * 1000.0)
    return float(statistics.median(runs))


def photo_of_size(size: tuple[int, int], seed: int = 7) -> np.ndarray:
    """A product photo of (width, height) ``size``: a rendered scene scaled up like a camera's big file."""
    scene = synth.render_scene(seed, (800, 600), background="gradient", product="bottle")
    return cv2.resize(scene.rgb, size, interpolation=cv2.INTER_CUBIC)


def speed(method: str, repeat: int, photos: dict[str, np.ndarray]) -> dict[str, float]:
    """preview/12 MP/24 MP timings of one method with its default settings."""
    settings = resolve_settings(method)
    figures = {"preview_ms": median_ms(lambda: segment_working(photos["preview_ms"], settings), repeat)}
    for key in ("mp12_ms", "mp24_ms"):
        image = LoadedImage(rgb=photos[key], alpha=None, name=key, mode="RGB")
        figures[key] = median_ms(lambda: cut_out(image, settings), repeat)
    return {k: round(v, 1) for k, v in figures.items()}


def quality_on_scenes(method: str, scenes: list[synth.Scene]) -> dict[str, float]:
    """Mean IoU and MAE (and the worst IoU) of a method's default settings on synthetic product photos."""
    settings = resolve_settings(method)
    ious, maes = [], []
    for scene in scenes:
        _, mask, _ = segment_working(scene.rgb, settings)
        scores = binary_scores(resize_mask(mask, scene.rgb.shape[:2]), scene.mask)
        ious.append(scores["iou"])
        maes.append(scores["mae"])
    return {"iou": round(float(np.mean(ious)), 4), "iou_min": round(float(np.min(ious)), 4),
            "mae": round(float(np.mean(maes)), 4), "images": len(scenes)}


def codec_timings(photo: np.ndarray, repeat: int) -> dict[str, float]:
    """JPEG decode (through the safe loader) and RGBA PNG encode of a 12 MP photo, in ms."""
    jpeg = encode_jpeg(photo, quality=92)
    alpha = np.ones(photo.shape[:2], np.float32)
    return {"decode_jpeg_12mp_ms": round(median_ms(lambda: load_image(jpeg), repeat), 1),
            "encode_png_12mp_ms": round(median_ms(lambda: encode_png(compose_transparent(photo, alpha)), repeat), 1)}


def machine() -> dict[str, object]:
    import os
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "opencv": cv2.__version__, "numpy": np.__version__}


def run_cli(args: argparse.Namespace) -> int:
    """The ``bench`` command: progress on stderr, a table on stdout, files in ``--out``."""
    names = args.methods or list(all_methods())
    for name in names:
        resolve_settings(name)  # unknown names fail before any work starts
    if args.out is not None:
        for file in ("bench.json", "bench.md"):
            if (args.out / file).exists() and not args.overwrite:
                raise OutputExistsError(f"{args.out / file} already exists; use --overwrite to replace it")
    photos = {key: photo_of_size(size) for key, size in SIZES.items()}
    scenes = synth.studio_set(count=args.scenes)
    results: dict[str, dict] = {}
    for index, name in enumerate(names, start=1):
        print(f"[{index}/{len(names)}] {name}: timing...", file=sys.stderr, flush=True)
        timing = speed(name, args.repeat, photos)
        print(f"[{index}/{len(names)}] {name}: scoring on {len(scenes)} product photos...", file=sys.stderr, flush=True)
        results[name] = {"quality": {"product_scenes": quality_on_scenes(name, scenes)}, "speed": timing}
    report = {"machine": machine(), "codecs": codec_timings(photos["mp12_ms"], args.repeat), "methods": results}
    table = markdown_table(report)
    print(table)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench.json").write_text(json.dumps(report, indent=2) + "\n")
        (args.out / "bench.md").write_text(table + "\n")
        print(f"wrote {args.out / 'bench.json'} and {args.out / 'bench.md'}", file=sys.stderr)
    return 0


def markdown_table(report: dict) -> str:
    """A readable table of the report."""
    lines = ["| method | product IoU | worst IoU | MAE | preview ms | 12 MP ms | 24 MP ms |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, entry in report["methods"].items():
        q = entry["quality"]["product_scenes"]
        s = entry["speed"]
        lines.append(f"| {name} | {q['iou']:.3f} | {q['iou_min']:.3f} | {q['mae']:.4f} | "
                     f"{s['preview_ms']:.0f} | {s['mp12_ms']:.0f} | {s['mp24_ms']:.0f} |")
    codecs = report["codecs"]
    lines.append("")
    lines.append(f"JPEG decode 12 MP: {codecs['decode_jpeg_12mp_ms']:.0f} ms; "
                 f"RGBA PNG encode 12 MP: {codecs['encode_png_12mp_ms']:.0f} ms "
                 f"({report['machine']['cpus']} CPUs, {report['machine']['platform']}).")
    return "\n".join(lines)
