"""Does the studio's server stay flat in memory? Start the real server, then in headless Chromium run
``--passes`` browser sessions that each upload ``--photos`` distinct 12-24 MP JPEGs one by one (the
studio cuts each out as it arrives), close each session, and print the server's RSS per step; at the
end wait until the server has dropped the closed sessions and print it once more.

    python scripts/studio_memory.py                       # 3 passes of 25 photos (the issue's figure)
    python scripts/studio_memory.py --passes 1 --photos 5 # a quick look

Photos are rendered product scenes enlarged to camera sizes (seeded, so every run uploads the same
files); nothing is written outside a temporary folder.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts._studio import FLAGS, IDLE, SHOWN, UPLOADER, chromium, studio_server

SIZES = ((4000, 3000), (4896, 3264), (6000, 4000))  # 12, 16 and 24 MP


def rss_mb(pid: int) -> float:
    """Resident memory of the server process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_until_shown(page, name: str, timeout: float = 180.0) -> None:
    """Wait until the Photo box shows the upload ``name`` (the studio selects a new upload)."""
    deadline = time.time() + timeout
    box = page.locator('input[aria-label="Photo"]')
    while time.time() < deadline:
        if box.count() and box.first.input_value().startswith(name):
            return
        page.wait_for_timeout(250)
    page.screenshot(path=str(Path(tempfile.gettempdir()) / "studio-memory-failure.png"))
    raise SystemExit(f"{name} was not shown within {timeout:.0f} s (screenshot in the temp folder)")


def upload(page, photo: Path) -> None:
    """Upload one photo as a seller would and wait until its cut-out is drawn and the page is idle."""
    page.locator(UPLOADER).set_input_files(str(photo))
    wait_until_shown(page, photo.name)
    page.wait_for_function(SHOWN, timeout=180_000)
    page.wait_for_function(IDLE, timeout=180_000)
    page.wait_for_timeout(300)


def make_photos(folder: Path, count: int) -> list[Path]:
    import cv2
    from PIL import Image

    from bgapp.lab import synth

    paths = []
    for index in range(count):
        product = synth.PRODUCTS[index % len(synth.PRODUCTS)]
        background = synth.BACKGROUNDS[index % len(synth.BACKGROUNDS)]
        scene = synth.render_scene(900 + index, (800, 600), background, product)
        size = SIZES[index % len(SIZES)]
        path = folder / f"shot-{index:02d}.jpg"
        Image.fromarray(cv2.resize(scene.rgb, size, interpolation=cv2.INTER_CUBIC)).save(path, quality=90)
        paths.append(path)
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--photos", type=int, default=25)
    parser.add_argument("--settle", type=int, default=75, help="seconds to wait after the last browser closes")
    args = parser.parse_args()
    browser_path = chromium()
    work = Path(tempfile.mkdtemp(prefix="bgapp-memory-"))
    print(f"rendering {args.photos} photos of 12-24 MP...", flush=True)
    photos = make_photos(work, args.photos)
    try:
        with studio_server() as (url, server, _):
            measure(url, server, browser_path, photos, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def measure(url: str, server, browser_path: str, photos: list[Path], args: argparse.Namespace) -> None:
    """The passes, with the server's RSS printed per step."""
    from playwright.sync_api import sync_playwright

    print(f"{'step':<34} {'server RSS MB':>14}", flush=True)
    print(f"{'server started':<34} {rss_mb(server.pid):>14.0f}", flush=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, headless=True, args=FLAGS)
        baseline = None
        for run in range(1, args.passes + 1):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(url)
            page.wait_for_function(SHOWN, timeout=180_000)
            if baseline is None:
                baseline = rss_mb(server.pid)
                print(f"{'first page shown':<34} {baseline:>14.0f}", flush=True)
            for index, photo in enumerate(photos, start=1):
                upload(page, photo)
                if index % 5 == 0 or index == len(photos):
                    print(f"{f'pass {run}: {index} uploads':<34} {rss_mb(server.pid):>14.0f}", flush=True)
            context.close()
            print(f"{f'pass {run}: browser session closed':<34} {rss_mb(server.pid):>14.0f}", flush=True)
        browser.close()
    time.sleep(args.settle)
    final = rss_mb(server.pid)
    print(f"{f'{args.settle} s after the last session':<34} {final:>14.0f}", flush=True)
    print(f"growth over the first page: {final - baseline:+.0f} MB")


if __name__ == "__main__":
    sys.exit(main())
