"""How long a seller waits for the studio's first cut-out: start the real server, wait until it answers
its health check, open the page in headless Chromium and time until the photo, mask and cut-out are
drawn (Streamlit's loading skeleton gone). Prints one line per run; nothing is timed inside the tests.

    python scripts/studio_first_result.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts._studio import FLAGS, SHOWN, chromium, studio_server


def one_run(browser_path: str) -> tuple[float, float, float]:
    """(seconds from launch to the health check answering, seconds from then to the first cut-out with
    the browser already open, as a seller's is; the same with Chromium's own start counted too)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = time.perf_counter()
        browser = p.chromium.launch(executable_path=browser_path, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        launch = time.perf_counter() - launched
        with studio_server() as (url, _, up):
            answered = time.perf_counter()
            page.goto(url)
            page.wait_for_function(SHOWN, timeout=120_000)
            shown = time.perf_counter() - answered
        browser.close()
    return up, shown, shown + launch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    browser_path = chromium()
    firsts = []
    for run in range(1, args.runs + 1):
        up, first, cold = one_run(browser_path)
        firsts.append(first)
        print(
            f"run {run}: server answering after {up:.1f} s; first cut-out {first:.1f} s later "
            f"({cold:.1f} s if the browser's own start is counted)",
            flush=True,
        )
    print(f"median first cut-out {statistics.median(firsts):.1f} s after the server answered", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
