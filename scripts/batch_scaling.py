"""Throughput of `batch` with 1 and 2 workers against a plain `cut` loop, on the same photos.

    python scripts/batch_scaling.py                      # 200 photos of 1-3 MP, the default method
    python scripts/batch_scaling.py --count 50 --method grabcut --workers 1 2 4

Makes COUNT product photos (bgapp.lab.synth scenes at 1.2, 1.9 and 3.1 MP in turn, JPEG) once in a
cache folder, then times each command as a user runs it, in a fresh process: `cut FOLDER/*.jpg`
and `batch FOLDER --workers N`. It prints photos/s from the wall clock (start-up included: what a
user waits for) and, for `batch`, the rate once the first photo is out (what a long run converges
to), and writes results/batch_scaling.json. Figures only; nothing is asserted. On a shared CPU,
run it twice and keep the quieter run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SIZES = ((1280, 960), (1600, 1200), (2048, 1536))


def photos(folder: Path, count: int) -> list[Path]:
    """COUNT product photos in ``folder`` (kept between runs: making them is not what we time).

    A full-size render costs seconds on a busy 2-core CPU, so each of COUNT/4 scenes is rendered at
    half size, scaled up to 1.2, 1.9 or 3.1 MP, and used four times (as shot, mirrored, and shifted
    by 4 % either way), each with its own sensor noise: what the pipeline sees per pixel is what a
    camera's JPEG gives it, and every file is different."""
    import cv2
    import numpy as np
    from PIL import Image

    from bgapp.lab import synth

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"shot{index:04d}.jpg" for index in range(count)]
    for scene_index in range(-(-count // 4)):
        if all(p.exists() for p in paths[scene_index * 4 : scene_index * 4 + 4]):
            continue
        width, height = SIZES[scene_index % len(SIZES)]
        base = synth.render_scene(1000 + scene_index, (width // 2, height // 2)).rgb
        base = cv2.resize(base, (width, height), interpolation=cv2.INTER_CUBIC)
        shift = width // 25
        variants = (base, base[:, ::-1], np.roll(base, shift, axis=1), np.roll(base, -shift, axis=1))
        rng = np.random.default_rng(scene_index)
        for path, variant in zip(paths[scene_index * 4 : scene_index * 4 + 4], variants):
            noisy = np.clip(variant + rng.normal(0, 2.0, variant.shape), 0, 255).astype(np.uint8)
            Image.fromarray(noisy).save(path, quality=92)
    return paths


def timed(command: list[str]) -> tuple[float, str]:
    """Wall-clock seconds of one command in a fresh process, and its stdout."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, check=False, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:6])}... failed ({done.returncode}): {done.stderr[-500:]}")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--method", default=None, help="default: the studio's default method")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--photos", type=Path, default=Path.home() / ".cache" / "bgapp" / "batch-scaling")
    parser.add_argument("--json", type=Path, default=ROOT / "results" / "batch_scaling.json")
    args = parser.parse_args()

    from bgapp.core.methods import default_method

    method = args.method or default_method()
    inputs = photos(args.photos / str(args.count), args.count)
    megapixels = sum(w * h for w, h in (SIZES[i % len(SIZES)] for i in range(args.count))) / args.count / 1e6
    rows = []
    work = Path(tempfile.mkdtemp(prefix="bgapp-scaling-"))
    try:
        seconds, _ = timed(
            [sys.executable, "-m", "bgapp", "cut", *map(str, inputs), "--method", method, "--out", str(work / "cut")]
        )
        rows.append(
            {
                "run": "cut loop (1 process)",
                "seconds": seconds,
                "photos_per_s": args.count / seconds,
                "steady_photos_per_s": None,
            }
        )
        print(f"cut loop: {seconds:.1f} s, {args.count / seconds:.2f} photos/s", flush=True)
        for workers in args.workers:
            seconds, out = timed(
                [
                    sys.executable,
                    "-m",
                    "bgapp",
                    "batch",
                    str(inputs[0].parent),
                    "--method",
                    method,
                    "--workers",
                    str(workers),
                    "--out",
                    str(work / f"batch{workers}"),
                ]
            )
            steady = re.search(r"([\d.]+) once running", out)
            rows.append(
                {
                    "run": f"batch, {workers} worker(s)",
                    "seconds": seconds,
                    "photos_per_s": args.count / seconds,
                    "steady_photos_per_s": float(steady.group(1)) if steady else None,
                }
            )
            print(
                f"batch {workers}: {seconds:.1f} s, {args.count / seconds:.2f} photos/s "
                f"({rows[-1]['steady_photos_per_s']} once running)",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    report = {
        "count": args.count,
        "mean_megapixels": round(megapixels, 2),
        "method": method,
        "cpus": os.cpu_count(),
        "load_average_1min_after": load,
        "machine": platform.platform(),
        "rows": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\n{args.count} photos, mean {megapixels:.1f} MP, {method}, {os.cpu_count()} CPUs "
        f"(load average {load:.1f} after the run)\n"
    )
    print("| run | wall clock | photos/s (start-up included) | photos/s once running |")
    print("|---|---:|---:|---:|")
    for row in rows:
        steady = f"{row['steady_photos_per_s']:.2f}" if row["steady_photos_per_s"] else "n/a"
        print(f"| {row['run']} | {row['seconds']:.0f} s | {row['photos_per_s']:.2f} | {steady} |")


if __name__ == "__main__":
    main()
