"""What a seller waits for with the default method, measured through the functions the front ends call
(``bench`` prints these beside the quality figures; nothing here is a timed test):

- ``first_cutout_s``: a fresh process is handed a 12 MP JPEG's bytes (an upload) and draws the studio's
  first preview: decode, working copy, the method (its networks loaded on the way, as on a server's
  first upload), clean-up;
- ``cutoff_move_ms``: then the Cut-off moves: the same photo again with another threshold (the studio's
  kept answer: no network runs);
- ``grid_20_s``: twenty other 12 MP photos through the same preview, one after another (the All photos grid);
- ``cold_cut_s`` / ``cold_cut_peak_mb``: ``python -m bgapp cut`` of one 12 MP JPEG in a new process,
  start to exit, and its peak memory (the kernel's maximum resident set).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PREVIEW = r"""
import json, sys, time
start = time.perf_counter()
from bgapp.core.images import load_image, resize_longer_side
from bgapp.core.pipeline import prepare, segment_working
photos = [open(p, "rb").read() for p in sys.argv[2:]]
method, shown = sys.argv[1] or None, {}
def preview(data):
    job = prepare(method)
    job.settings.method.prepare(job.settings.method_params)
    work = resize_longer_side(load_image(data).rgb, int(job.settings.step_params["work_size"]))
    segment_working(work, job.settings)
    return work
clock = time.perf_counter()
work = preview(photos[0])
shown["first_cutout_s"] = time.perf_counter() - clock
shown["import_s"] = clock - start
cutoff = next((p for p in prepare(method).settings.method.params if p.name == "threshold"), None)
value = None if cutoff is None else cutoff.default + (cutoff.max - cutoff.min) / 10
moved = prepare(method, {} if cutoff is None else {"threshold": round(value) if cutoff.kind == "int" else value}).settings
clock = time.perf_counter()
segment_working(work, moved)
shown["cutoff_move_ms"] = (time.perf_counter() - clock) * 1000.0
clock = time.perf_counter()
for data in photos[1:]:
    preview(data)
shown["grid_20_s"] = time.perf_counter() - clock
print(json.dumps(shown))
"""


def twelve_mp_jpegs(count: int, folder: Path) -> list[Path]:
    """``count`` different 12 MP (4000x3000) product photos as JPEG files, as a phone writes them."""
    from bgapp.core.images import encode_jpeg
    from bgapp.lab.bench import photo_of_size

    paths = []
    base = photo_of_size((4000, 3000))
    for index in range(count):
        rgb = np.roll(base, shift=index * 37, axis=1)  # every photo differs: no answer kept from another
        path = folder / f"photo-{index:02d}.jpg"
        path.write_bytes(encode_jpeg(rgb, quality=90))
        paths.append(path)
    return paths


CUT = r"""
import runpy, sys
sys.argv = ["bgapp", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("bgapp", run_name="__main__")
except SystemExit as done:
    code = done.code or 0
with open("/proc/self/status") as status:
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
print("PEAK_KB", peak, file=sys.stderr)
sys.exit(code)
"""
"""``python -m bgapp ARGS`` that says its own peak memory at exit. The kernel's VmHWM belongs to the
program that exec'd (a child's ``ru_maxrss`` also counts the parent's pages it was forked with: every
run then read as the bench process's own 1.7 GB)."""


def _run(command: list[str]) -> tuple[float, str, str]:
    """(wall seconds, stdout, stderr) of one child process; a failure is a RuntimeError with its last line."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:4])} failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}"
        )
    return wall, done.stdout, done.stderr


def seller_waits(method: str = "", count: int = 21) -> dict[str, float]:
    """The figures in the module docstring for ``method`` (default: the default method), in one run
    (``count``: the first photo and the grid's; fewer only to test this function)."""
    with tempfile.TemporaryDirectory(prefix="bgapp-waits-") as temp:
        folder = Path(temp)
        photos = twelve_mp_jpegs(count, folder)
        _, out, _ = _run([sys.executable, "-c", PREVIEW, method, *map(str, photos)])
        figures = {k: round(float(v), 3 if k.endswith("_s") else 1) for k, v in json.loads(out).items()}
        command = [sys.executable, "-c", CUT, "cut", str(photos[0]), "--out", str(folder / "out")]
        if method:
            command += ["--method", method]
        wall, _, err = _run(command)
        figures["cold_cut_s"] = round(wall, 2)
        peak_kb = next(line.split()[1] for line in err.splitlines() if line.startswith("PEAK_KB"))
        figures["cold_cut_peak_mb"] = round(int(peak_kb) / 1024.0, 0)
    return figures


def waits_table(rows: dict[str, dict[str, float]]) -> str:
    """One line per method: the studio's first cut-out, a Cut-off move, the 20-photo grid, a cold 12 MP cut."""
    lines = [
        (
            "| default method | first cut-out after an upload | Cut-off move | 20 photos in the grid | "
            "cold 12 MP `cut` | its peak memory |"
        ),
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, f in rows.items():
        lines.append(
            f"| {name} | {f['first_cutout_s']:.2f} s | {f['cutoff_move_ms']:.0f} ms | {f['grid_20_s']:.1f} s | "
            f"{f['cold_cut_s']:.2f} s | {f['cold_cut_peak_mb']:.0f} MB |"
        )
    return "\n".join(lines)
