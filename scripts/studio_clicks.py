"""Fixing a cut-out by clicking, in the real studio: upload a photo, click on it in headless Chromium,
and time each click until the corrected mask is drawn. Saves before/after screenshots.

    python scripts/studio_clicks.py [--photo shot.jpg --mode remove --click 600,300 ...] [--out docs]

Without --photo it makes a flat-lay on a wooden table (a blue mug and an orange box; the listing is
for the mug, the network keeps both) and clicks "remove" on the box. Prints one line per click; nothing is
timed inside the tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts._studio import FLAGS, SHOWN, UPLOADER, chromium, settle, studio_server

ONE_PHOTO = """() => { const frames = document.querySelectorAll('iframe[title*="streamlit_image_coordinates"]');
    return frames.length === 1 && frames[0].offsetHeight > 0; }"""
MUG_CENTRE = (640, 620)  # in the flat-lay: the middle of the mug's body, product for any sensible method
MASK_SRC = """() => { const shown = [...document.querySelectorAll('[data-testid="stImage"]')]
        .find(e => (e.innerText || '').includes('Mask'));
    const img = shown && shown.querySelector('img');
    return img ? img.src : ''; }"""
"""The address of the mask image the studio shows (the one captioned "Mask")."""


def flat_lay(path: Path) -> tuple[int, int]:
    """A 1600x1200 flat-lay: a blue mug and an orange box beside it; returns the box's centre."""
    import cv2
    from PIL import Image

    rng = np.random.default_rng(3)
    height, width = 1200, 1600
    grain = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), sigmaX=40, sigmaY=2)
    wood = np.stack([150 + 25 * grain, 105 + 20 * grain, 70 + 15 * grain], -1)
    image = np.clip(wood + rng.normal(0, 4, wood.shape), 0, 255).astype(np.uint8)
    cv2.ellipse(image, (640, 620), (260, 300), 0, 0, 360, (40, 80, 170), -1, cv2.LINE_AA)
    cv2.ellipse(image, (910, 620), (90, 130), 0, 0, 360, (40, 80, 170), 40, cv2.LINE_AA)
    cv2.rectangle(image, (1130, 250), (1420, 520), (235, 130, 40), -1, cv2.LINE_AA)
    Image.fromarray(image).save(path, quality=92)
    return 1275, 385  # the middle of the orange box


def _undo_all(page, count: int) -> None:
    """Take back ``count`` marks with the Undo button, waiting for each redraw."""
    for _ in range(count):
        before = page.evaluate(MASK_SRC)
        page.get_by_role("button", name="Undo").click()
        page.wait_for_function(f"() => ({MASK_SRC})() !== {before!r}", timeout=60_000)
        settle(page)
        page.wait_for_function(ONE_PHOTO, timeout=60_000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", type=Path, help="the photo to fix (default: a generated flat-lay)")
    parser.add_argument(
        "--mode",
        default=None,
        choices=("keep", "remove"),
        help="what the clicks mark (default: keep; remove for the generated flat-lay)",
    )
    parser.add_argument("--click", action="append", default=[], metavar="X,Y", help="photo pixels, repeatable")
    parser.add_argument("--out", type=Path, default=None, help="folder for the before/after screenshots")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="make the clicks N times, pressing Undo between, and print the median per click",
    )
    args = parser.parse_args()
    browser_path = chromium()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch:
        photo = args.photo
        clicks = [tuple(float(v) for v in c.split(",")) for c in args.click]
        if photo is None:
            photo = Path(scratch) / "flat-lay.jpg"
            clicks = clicks or [flat_lay(photo)]
        args.mode = args.mode or ("remove" if args.photo is None else "keep")
        from PIL import Image

        width, _height = Image.open(photo).size
        with studio_server() as (url, _, _), sync_playwright() as p:
            browser = p.chromium.launch(executable_path=browser_path, headless=True, args=FLAGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(url)
            page.wait_for_function(SHOWN, timeout=180_000)
            page.locator(UPLOADER).set_input_files(str(photo))
            page.wait_for_function(
                f"""() => [...document.querySelectorAll('input[aria-label="Photo"]')]
                .some(i => i.value.includes({photo.name!r}))""",
                timeout=120_000,
            )
            page.wait_for_function(SHOWN, timeout=120_000)
            settle(page)
            page.get_by_text("Remove" if args.mode == "remove" else "Keep", exact=True).first.click()
            settle(page)
            page.wait_for_function(ONE_PHOTO, timeout=60_000)
            if args.out:  # the uploaded photo in the chosen mode, before any click
                time.sleep(1.0)
                settle(page)
                page.screenshot(path=str(args.out / "studio-fix-before.png"), full_page=True)
            frame = page.frame_locator('iframe[title*="streamlit_image_coordinates"]:not([width="-1"])')
            image = frame.locator("img")
            times: dict[int, list[float]] = {}
            for number, (x, y) in [(n, c) for _ in range(args.repeat) for n, c in enumerate(clicks, start=1)]:
                before = page.evaluate(MASK_SRC)
                image.wait_for(state="visible", timeout=60_000)
                box = image.bounding_box()
                scale = box["width"] / width
                start = time.perf_counter()
                image.click(position={"x": x * scale, "y": y * scale})
                page.wait_for_function(f"() => ({MASK_SRC})() !== {before!r}", timeout=60_000)
                drawn = time.perf_counter() - start
                settle(page)
                page.wait_for_function(ONE_PHOTO, timeout=60_000)
                print(
                    f"click {number} ({args.mode} at {x:.0f},{y:.0f}): corrected mask drawn after "
                    f"{drawn * 1000:.0f} ms",
                    flush=True,
                )
                times.setdefault(number, []).append(drawn * 1000)
                if args.repeat > 1 and number == len(clicks) and len(times[number]) < args.repeat:
                    _undo_all(page, len(clicks))
            for number, values in times.items():
                if len(values) > 1:
                    print(
                        f"click {number}: median {np.median(values):.0f} ms of {len(values)} "
                        f"(min {min(values):.0f}, max {max(values):.0f})"
                    )
            if args.out:
                time.sleep(1.0)
                settle(page)
                page.screenshot(path=str(args.out / "studio-fix-after.png"), full_page=True)
            assert "Traceback" not in page.content()
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
