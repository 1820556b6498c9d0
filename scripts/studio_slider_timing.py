"""What a slider move costs in the studio, beyond the method's own time, with few or many photos in
the session: start the real server, upload ``--photos`` photos in headless Chromium, then move a
slider ``--moves`` times with the keyboard and time each redraw (from the key press until the
preview caption shows a new time). The method's own time is read from that caption, so the
overhead is what the page adds: the rerun, the clean-up, three previews drawn and sent.

    python scripts/studio_slider_timing.py --photos 1 25
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts._studio import FLAGS, IDLE, SHOWN, chromium, studio_server
from scripts.studio_memory import make_photos, upload

CAPTION = """() => [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
    .map(c => c.innerText).find(t => t.includes('ms for the preview')) || ''"""


def measure(
    url: str, browser_path: str, photos: list[Path], moves: int, method: str, name: str | None = None
) -> tuple[list[float], list[float]]:
    """(wall ms per redraw, the method's own ms per redraw) after uploading ``photos``."""
    from playwright.sync_api import sync_playwright

    walls, own = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_function(SHOWN, timeout=180_000)
        for photo in photos:
            upload(page, photo)
        box = page.locator('input[aria-label="Method"]')
        box.click()
        page.get_by_role("option", name=re.compile(rf"^{re.escape(method)} ")).click()
        page.wait_for_function(IDLE, timeout=180_000)
        page.wait_for_timeout(2000)
        slider = page.get_by_role("slider", name=name) if name else page.get_by_role("slider").first
        slider.focus()
        slider.press("Home")  # from the low end, every move is to a value not seen yet: the method runs
        page.wait_for_timeout(1500)
        page.wait_for_function(IDLE, timeout=180_000)
        for move in range(moves):
            before = page.evaluate(CAPTION)
            slider.focus()
            start = time.perf_counter()
            slider.press("ArrowRight")
            page.wait_for_function(f"() => ({CAPTION})() !== {before!r}", timeout=60_000)
            page.wait_for_function(SHOWN, timeout=60_000)
            walls.append((time.perf_counter() - start) * 1000.0)
            own.append(float(re.search(r"(\d+) ms for the preview", page.evaluate(CAPTION)).group(1)))
            page.wait_for_timeout(300)
        browser.close()
    return walls, own


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, nargs="+", default=[1, 25])
    parser.add_argument("--moves", type=int, default=10)
    parser.add_argument("--method", default="threshold")
    parser.add_argument(
        "--slider",
        default=None,
        help="the slider's label (e.g. Cut-off); default the method's first. It is moved to its low "
        "end, then one step up per move, so each redraw runs the method (no kept mask)",
    )
    args = parser.parse_args()
    browser_path = chromium()
    work = Path(tempfile.mkdtemp(prefix="bgapp-slider-"))
    photos = make_photos(work, max(args.photos))
    try:
        for count in args.photos:
            with studio_server() as (url, _, _):
                walls, own = measure(url, browser_path, photos[:count], args.moves, args.method, args.slider)
            extra = [w - o for w, o in zip(walls, own)]
            print(
                f"{count:>3} photo(s) in the session, {args.method}: redraw median {statistics.median(walls):.0f} ms "
                f"(method {statistics.median(own):.0f} ms, page {statistics.median(extra):.0f} ms beyond it; "
                f"worst {max(extra):.0f} ms beyond) over {len(walls)} moves",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
